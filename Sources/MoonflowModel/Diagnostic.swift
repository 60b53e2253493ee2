/// A stable error code. Codes are part of the user contract (docs/error-codes.md lists them);
/// each module declares its own in an extension.
package struct DiagnosticCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    package var rawValue: String
    package init(rawValue: String) { self.rawValue = rawValue }
    package init(_ rawValue: String) { self.rawValue = rawValue }
    package var description: String { rawValue }
}

/// One problem found in a file, rendered like a compiler:
/// `file:line:col: error[CODE]: message`, the source line, a caret under the column.
package struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Severity: String, Sendable, Hashable { case error, warning }

    package var severity: Severity
    package var code: DiagnosticCode
    package var message: String
    package var location: SourceLocation
    /// An optional second line: what to do about it.
    package var hint: String?

    package init(
        _ code: DiagnosticCode, _ message: String, at location: SourceLocation,
        hint: String? = nil, severity: Severity = .error
    ) {
        self.severity = severity
        self.code = code
        self.message = message
        self.location = location
        self.hint = hint
    }

    /// The first line only: `file:line:col: error[CODE]: message`.
    package var description: String {
        "\(location.file):\(location.line):\(location.column): \(severity.rawValue)[\(code.rawValue)]: \(message)"
    }

    /// The full rendering with the source line and a caret, when the source text is known.
    package func rendered(source: String?) -> String {
        var out = description
        if let source, location.line > 0, let line = Self.line(location.line, of: source) {
            let gutter = String(location.line)
            let pad = String(repeating: " ", count: gutter.count)
            out += "\n\(pad) |\n\(gutter) | \(line)\n\(pad) | "
            // Keep tabs in the caret line so it lines up under the source.
            let prefix = line.unicodeScalars.prefix(max(0, location.column - 1))
            out += String(String.UnicodeScalarView(prefix.map { $0 == "\t" ? "\t" : " " })) + "^"
        }
        if let hint { out += "\n  = help: \(hint)" }
        return out
    }

    static func line(_ number: Int, of source: String) -> Substring? {
        var current = 1
        var start = source.startIndex
        while current < number {
            guard let newline = source[start...].firstIndex(where: { $0 == "\n" || $0 == "\r\n" }) else { return nil }
            start = source.index(after: newline)
            current += 1
        }
        let end = source[start...].firstIndex(where: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) ?? source.endIndex
        return source[start..<end]
    }
}

/// Several diagnostics at once: every error of a file is reported together.
package struct DiagnosticList: Error, Sendable, CustomStringConvertible {
    package var diagnostics: [Diagnostic]
    package init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    package var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
