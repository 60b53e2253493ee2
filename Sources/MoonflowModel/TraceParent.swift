/// A W3C Trace Context `traceparent` (version 00): `00-<trace id>-<parent id>-<flags>`, in
/// lowercase hex. Anything else is not one: a receiver ignores it and starts a trace of its own.
package struct TraceParent: Sendable, Hashable {
    /// 16 bytes, not all zero.
    package var traceID: [UInt8]
    /// 8 bytes, not all zero.
    package var parentID: [UInt8]
    package var sampled: Bool

    package init(traceID: [UInt8], parentID: [UInt8], sampled: Bool) {
        self.traceID = traceID
        self.parentID = parentID
        self.sampled = sampled
    }

    /// Parses a header value (surrounding blanks allowed); `nil` when it is not a version-00
    /// traceparent with non-zero ids. A later version is read by its first four fields, as the
    /// specification asks.
    package init?(header: String) {
        let text = header.trimmingBlanks
        let fields = text.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count >= 4, let version = Self.bytes(fields[0]), version.count == 1, version[0] != 0xff,
            version[0] != 0 || fields.count == 4,
            let trace = Self.bytes(fields[1]), trace.count == 16, trace.contains(where: { $0 != 0 }),
            let parent = Self.bytes(fields[2]), parent.count == 8, parent.contains(where: { $0 != 0 }),
            let flags = Self.bytes(fields[3]), flags.count == 1
        else { return nil }
        self.init(traceID: trace, parentID: parent, sampled: flags[0] & 1 == 1)
    }

    /// The header value.
    package var header: String {
        "00-\(Hex.encode(traceID))-\(Hex.encode(parentID))-\(sampled ? "01" : "00")"
    }

    package var traceIDHex: String { Hex.encode(traceID) }

    /// A field's bytes: lowercase hex only (the specification refuses uppercase), not empty.
    private static func bytes(_ text: Substring) -> [UInt8]? {
        text.isEmpty ? nil : Hex.decode(text.utf8, lowercaseOnly: true)
    }
}

extension String {
    fileprivate var trimmingBlanks: Substring {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
