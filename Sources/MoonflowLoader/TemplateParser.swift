import MoonflowModel

/// Splits a scalar into literal text and `${ … }` Lua expressions (docs/expressions.md).
///
/// The closing `}` is found by scanning Lua: braces of table constructors nest, and braces inside
/// Lua strings (`'…'`, `"…"`, `[[…]]`) or comments do not count. `$${` writes a literal `${`.
enum TemplateParser {
    struct Failure: Error, Equatable {
        var message: String
        /// Offset in characters from the start of the scalar text.
        var offset: Int
    }

    static func parse(_ text: String, location: SourceLocation, columnOffset: Int = 0) -> Result<Template, Failure> {
        let chars = Array(text)
        var parts: [Template.Part] = []
        var literal = ""
        var i = 0
        var line = location.line
        var column = location.column + columnOffset
        func advance(_ n: Int = 1) {
            for _ in 0..<n {
                if chars[i] == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
                i += 1
            }
        }
        while i < chars.count {
            if chars[i] == "$", i + 2 < chars.count, chars[i + 1] == "$", chars[i + 2] == "{" {
                literal += "${"
                advance(3)
                continue
            }
            guard chars[i] == "$", i + 1 < chars.count, chars[i + 1] == "{" else {
                literal.append(chars[i])
                advance()
                continue
            }
            let start = i
            let exprLocation = SourceLocation(file: location.file, line: line, column: column)
            guard let end = closingBrace(chars, from: i + 2) else {
                return .failure(Failure(message: "'${' is not closed by a matching '}'", offset: start))
            }
            let source = String(chars[(i + 2)..<end]).trimmingWhitespace()
            if source.isEmpty {
                return .failure(Failure(message: "'${ }' holds no expression", offset: start))
            }
            if !literal.isEmpty {
                parts.append(.literal(literal))
                literal = ""
            }
            parts.append(.expression(Expression(source, location: exprLocation)))
            advance(end + 1 - i)
        }
        if !literal.isEmpty || parts.isEmpty { parts.append(.literal(literal)) }
        return .success(Template(parts: parts))
    }

    /// Index of the `}` closing an expression that starts at `from`, or `nil`.
    private static func closingBrace(_ chars: [Character], from: Int) -> Int? {
        var depth = 0
        var i = from
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "{": depth += 1
            case "}":
                if depth == 0 { return i }
                depth -= 1
            case "\"", "'":
                i += 1
                while i < chars.count && chars[i] != c {
                    if chars[i] == "\\" { i += 1 }
                    i += 1
                }
            case "[":
                if let close = longBracketEnd(chars, at: i) { i = close }
            case "-":
                if i + 1 < chars.count, chars[i + 1] == "-" {
                    if i + 2 < chars.count, chars[i + 2] == "[", let close = longBracketEnd(chars, at: i + 2) {
                        i = close
                    } else {
                        while i < chars.count && chars[i] != "\n" { i += 1 }
                    }
                }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// For a Lua long bracket `[[`, `[==[` at `at`, the index of its last closing character.
    private static func longBracketEnd(_ chars: [Character], at: Int) -> Int? {
        var level = 0
        var j = at + 1
        while j < chars.count && chars[j] == "=" {
            level += 1
            j += 1
        }
        guard j < chars.count, chars[j] == "[" else { return nil }
        let closing = Array("]" + String(repeating: "=", count: level) + "]")
        var k = j + 1
        while k + closing.count <= chars.count {
            if Array(chars[k..<(k + closing.count)]) == closing { return k + closing.count - 1 }
            k += 1
        }
        return chars.count - 1
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
