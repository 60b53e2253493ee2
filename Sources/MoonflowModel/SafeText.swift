/// Text from outside (script errors, run ids, event payloads) made safe to store, log, print and
/// return: control characters become visible escapes, so no text can end a log line and forge the
/// next one, move a terminal's cursor, or reorder what a reader sees; and error messages are capped.
///
/// Escaped: C0 controls and DEL (`\n`, `\r`, `\t`, else `\u{1B}`), C1 controls, the Unicode line
/// and paragraph separators, and the bidirectional embedding, override and isolate controls.
/// A backslash is left as it is: the escapes are for a reader, not a format to decode.
package enum SafeText {
    /// The most UTF-8 bytes of an error message (docs/workflow-format.md): 8 KB, the truncation mark included.
    package static let errorMessageLimit = 8 << 10

    /// `text` with every control character escaped.
    package static func escapingControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { append(scalar, to: &out) }
        return String(out)
    }

    /// The form every error message is stored, logged and returned in: control characters
    /// escaped, and at most `limit` UTF-8 bytes, cut on a character boundary and ending with
    /// `… [truncated: N bytes in all]` when it was longer. Applying it twice changes nothing.
    package static func errorMessage(_ text: String, limit: Int = errorMessageLimit) -> String {
        let total = text.utf8.count
        if total <= limit, !text.unicodeScalars.contains(where: needsEscape) { return text }
        let mark = "… [truncated: \(total) bytes in all]"
        var out = String.UnicodeScalarView()
        var used = 0
        var cut = false
        for character in text {
            var piece = String.UnicodeScalarView()
            for scalar in character.unicodeScalars { append(scalar, to: &piece) }
            let size = String(piece).utf8.count
            if used + size > limit {
                cut = true
                break
            }
            out.append(contentsOf: piece)
            used += size
        }
        guard cut else { return String(out) }
        // Make room for the mark: drop whole characters from the end.
        var kept = String(out)
        let room = limit - mark.utf8.count
        while kept.utf8.count > room, !kept.isEmpty { kept.removeLast() }
        return kept + mark
    }

    /// A short form of an untrusted name for messages: escaped, and cut to `limit` characters with `…`.
    package static func display(_ text: String, limit: Int = 64) -> String {
        let escaped = escapingControls(text.count > limit ? String(text.prefix(limit)) : text)
        return text.count > limit ? escaped + "…" : escaped
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x2028, 0x2029: true  // line and paragraph separators
        case 0x202A...0x202E, 0x2066...0x2069: true  // bidi embeddings, overrides, isolates
        default: false
        }
    }

    private static func append(_ scalar: Unicode.Scalar, to out: inout String.UnicodeScalarView) {
        guard needsEscape(scalar) else {
            out.append(scalar)
            return
        }
        let escape: String =
            switch scalar {
            case "\n": "\\n"
            case "\r": "\\r"
            case "\t": "\\t"
            default: "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        out.append(contentsOf: escape.unicodeScalars)
    }
}
