/// Recognises the regex shape behind most catastrophic backtracking: a repeated group whose body
/// is itself a repetition and nothing it must match besides (`(a+)+`, `(\w+\s?)*`, `(?:x*)*`).
/// Such a group can split one run of characters in exponentially many ways, and a failing match
/// tries them all. The same regex without the outer repetition matches the same strings.
///
/// This is a wall in front of the time budget (`JSONSchema.Options.patternTimeLimit`), not a
/// replacement: other exponential shapes (overlapping alternatives such as `(a|aa)+`) are left to
/// the budget. The scan is deliberately narrow so that ordinary patterns are never refused:
/// `([a-z]+-)*[a-z]+` or `(\d+,)*\d+` have a character every repetition must match, and pass.
package enum PatternShape {
    /// The nested repetition found in `source` (e.g. `(a+)+`), or `nil` when there is none, or
    /// when the pattern does not parse (compiling it reports that).
    package static func nestedRepetition(in source: String) -> String? {
        var parser = Parser(Array(source.unicodeScalars))
        guard let sequence = try? parser.alternatives(), parser.index == parser.scalars.count else { return nil }
        return find(in: sequence, parser.scalars)
    }

    struct Term {
        var atom: Atom
        var min: Int
        var max: Int?
        var range: Range<Int>
    }

    enum Atom {
        /// Matches one character (a literal, a class, `.`, an escape).
        case character
        /// Matches nothing (`^`, `$`, `\b`, a lookaround).
        case empty
        case group([[Term]])
    }

    struct Malformed: Error {}

    struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        mutating func alternatives() throws -> [[Term]] {
            var result: [[Term]] = [[]]
            while let c = current, c != ")" {
                if c == "|" {
                    index += 1
                    result.append([])
                    continue
                }
                let start = index
                let atom = try self.atom()
                var (min, max) = (1, Optional(1))
                if let quantifier = try self.quantifier() {
                    (min, max) = quantifier
                    if current == "?" { index += 1 }  // lazy
                }
                result[result.count - 1].append(Term(atom: atom, min: min, max: max, range: start..<index))
            }
            return result
        }

        mutating func atom() throws -> Atom {
            guard let c = current else { throw Malformed() }
            index += 1
            switch c {
            case "^", "$": return .empty
            case "\\":
                guard let e = current else { throw Malformed() }
                index += 1
                return e == "b" || e == "B" ? .empty : .character
            case "[":
                if current == "^" { index += 1 }
                if current == "]" { index += 1 }
                while let d = current, d != "]" {
                    index += d == "\\" ? 2 : 1
                }
                guard current == "]" else { throw Malformed() }
                index += 1
                return .character
            case "(":
                var lookaround = false
                if current == "?" {
                    index += 1
                    switch current {
                    case ":": index += 1
                    case "=", "!":
                        index += 1
                        lookaround = true
                    case "<":
                        index += 1
                        if current == "=" || current == "!" {
                            index += 1
                            lookaround = true
                        } else {
                            while let d = current, d != ">" { index += 1 }
                            index += 1
                        }
                    default: break  // inline flags and other ICU forms: read the rest as a group
                    }
                }
                let inner = try alternatives()
                guard current == ")" else { throw Malformed() }
                index += 1
                return lookaround ? .empty : .group(inner)
            case "*", "+", "?", ")": throw Malformed()
            default: return .character
            }
        }

        mutating func quantifier() throws -> (Int, Int?)? {
            switch current {
            case "*":
                index += 1
                return (0, nil)
            case "+":
                index += 1
                return (1, nil)
            case "?":
                index += 1
                return (0, 1)
            case "{":
                // `{n}`, `{n,}`, `{n,m}`; anything else is a literal brace.
                var probe = index + 1
                func number() -> Int? {
                    var digits = ""
                    while probe < scalars.count, ("0"..."9").contains(scalars[probe]) {
                        digits.unicodeScalars.append(scalars[probe])
                        probe += 1
                    }
                    return digits.isEmpty ? nil : Int(digits.prefix(9))
                }
                guard let low = number() else { return nil }
                var high: Int? = low
                if probe < scalars.count, scalars[probe] == "," {
                    probe += 1
                    high = number()
                }
                guard probe < scalars.count, scalars[probe] == "}" else { return nil }
                index = probe + 1
                return (low, high)
            default: return nil
            }
        }
    }

    /// Whether a term can match the empty string.
    static func nullable(_ term: Term) -> Bool {
        if term.min == 0 { return true }
        switch term.atom {
        case .character: return false
        case .empty: return true
        case .group(let alternatives): return alternatives.contains { $0.allSatisfy(nullable) }
        }
    }

    /// Whether a term can repeat something non-empty without bound (a star height of one or more).
    static func repeats(_ term: Term) -> Bool {
        if term.max == nil, !nullableAtom(term.atom) { return true }
        if case .group(let alternatives) = term.atom { return alternatives.contains { $0.contains(where: repeats) } }
        return false
    }

    private static func nullableAtom(_ atom: Atom) -> Bool {
        nullable(Term(atom: atom, min: 1, max: 1, range: 0..<0))
    }

    private static func find(in alternatives: [[Term]], _ scalars: [Unicode.Scalar]) -> String? {
        for sequence in alternatives {
            for term in sequence {
                guard case .group(let inner) = term.atom else { continue }
                // An unbounded repetition of a group one of whose branches is a repetition plus
                // only optional parts.
                if term.max == nil {
                    for branch in inner {
                        let culprit = branch.indices.contains { i in
                            repeats(branch[i]) && branch.indices.allSatisfy { $0 == i || nullable(branch[$0]) }
                        }
                        if culprit {
                            var text = ""
                            text.unicodeScalars.append(contentsOf: scalars[term.range])
                            return text
                        }
                    }
                }
                if let nested = find(in: inner, scalars) { return nested }
            }
        }
        return nil
    }
}
