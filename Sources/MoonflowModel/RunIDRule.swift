/// The one rule for run ids a caller chooses (`run_id` of `POST /v1/runs`, `moonflow run --run-id`):
/// `^[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}$`. Such an id never contains `/` and always starts with a
/// letter or digit, so the ids the engine makes itself (child runs `<parent>/<activity>`, schedule
/// ticks and event runs starting with `@`) are out of every caller's reach: no caller can create a
/// run the engine would later adopt as its own. The rule also keeps ids safe to print, to log and
/// to put in a URL path or a page without escaping.
///
/// Callers may still name engine-made runs to read, cancel or terminate them; only creating one
/// is refused.
package enum RunIDRule {
    package static let maxLength = 200
    /// The rule as a regular expression, for documents (OpenAPI `pattern`) and messages.
    package static let pattern = "^[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}$"

    /// Why `id` is not a run id a caller may choose; `nil` when it is one.
    package static func problem(with id: String) -> String? {
        let bytes = Array(id.utf8)
        guard let first = bytes.first else { return "a run id must not be empty" }
        guard bytes.count <= maxLength else { return "a run id has at most \(maxLength) characters (this one has \(bytes.count) bytes)" }
        guard isLetterOrDigit(first) else {
            return "a run id starts with a letter or a digit (ids starting otherwise, and ids with '/', are the engine's own)"
        }
        if let bad = bytes.first(where: { !isAllowed($0) }) {
            let shown = bad < 0x80 && bad >= 0x20 && bad != 0x7F ? "'\(Character(Unicode.Scalar(bad)))'" : hexByte(bad)
            return "a run id may contain only letters, digits and . _ : ~ - (not \(shown))"
        }
        return nil
    }

    package static func isValid(_ id: String) -> Bool { problem(with: id) == nil }

    /// Throws `RunIDError` naming the rule when `id` is not a run id a caller may choose.
    package static func check(_ id: String) throws(RunIDError) {
        if let problem = problem(with: id) { throw RunIDError(id: id, reason: problem) }
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        isLetterOrDigit(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
            || byte == UInt8(ascii: "~") || byte == UInt8(ascii: "-")
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "byte 0x" + (hex.count == 1 ? "0" + hex : hex)
    }
}

/// A run id a caller chose that breaks `RunIDRule`. The edges turn it into a 400 naming `$.run_id`
/// (API) or a usage error (CLI).
package struct RunIDError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The id as given, made safe to print (control characters escaped, long ids cut).
    package var id: String
    package var reason: String

    package init(id: String, reason: String) {
        self.id = SafeText.display(id, limit: 64)
        self.reason = reason
    }

    package var description: String { "invalid run id '\(id)': \(reason); the rule is \(RunIDRule.pattern)" }
}
