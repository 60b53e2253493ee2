/// A stable error code. Codes are part of the user contract (docs/error-codes.md lists them);
/// each module declares its own in an extension.
public struct DiagnosticCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// One problem found in a file, rendered like a compiler:
/// `file:line:col: error[CODE]: message`, the source line, a caret under the column.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable { case error, warning }

    public var severity: Severity
    public var code: DiagnosticCode
    public var message: String
    public var location: SourceLocation
    /// An optional second line: what to do about it.
    public var hint: String?

    public init(
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
    public var description: String {
        "\(location.file):\(location.line):\(location.column): \(severity.rawValue)[\(code.rawValue)]: \(message)"
    }

    /// The full rendering with the source line and a caret, when the source text is known.
    public func rendered(source: String?) -> String {
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
public struct DiagnosticList: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
