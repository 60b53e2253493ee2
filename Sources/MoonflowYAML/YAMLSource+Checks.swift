import MoonflowModel

/// The checks that run before libyaml sees a byte: size, encoding, strict UTF-8 (docs/workflow-format.md).
extension YAMLSource {
    func checkSize(limit: Int) throws(Diagnostic) {
        guard bytes.count > limit else { return }
        throw Diagnostic(
            .yamlFileTooLarge,
            "the file is \(Self.describeSize(bytes.count)), larger than the limit of \(Self.describeSize(limit))",
            at: location(line: 1, column: 1),
            hint: "split the file, or move bulk data into a JSON file referenced with $ref")
    }

    /// Refuses UTF-16 and UTF-32 (with a byte order mark, or recognised by the NUL bytes YAML 1.2
    /// §5.2 uses to detect them), so they are never mistaken for broken UTF-8.
    func checkEncoding() throws(Diagnostic) {
        let boms: [(prefix: [UInt8], name: String)] = [
            ([0x00, 0x00, 0xFE, 0xFF], "UTF-32 (big-endian)"),
            ([0xFF, 0xFE, 0x00, 0x00], "UTF-32 (little-endian)"),
            ([0xFE, 0xFF], "UTF-16 (big-endian)"),
            ([0xFF, 0xFE], "UTF-16 (little-endian)"),
        ]
        var found = boms.first { bytes.starts(with: $0.prefix) }.map { "is encoded as \($0.name)" }
        if found == nil, bytes.count >= 2, bytes[0] == 0 || bytes[1] == 0 {
            found = "has a NUL byte in its first two bytes, so it looks like UTF-16 or UTF-32"
        }
        guard let found else { return }
        throw Diagnostic(
            .yamlUnsupportedEncoding, "the file \(found); Moonflow reads only UTF-8",
            at: location(line: 1, column: 1),
            hint: "convert it to UTF-8, e.g. `iconv -f UTF-16 -t UTF-8 file.yaml`")
    }

    /// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
    /// The first invalid byte is reported with its offset; nothing is ever replaced.
    func checkUTF8() throws(Diagnostic) {
        // The standard library's validator is fast; the scan below only runs to explain a failure.
        guard String(validating: bytes, as: UTF8.self) == nil else { return }
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            // The accepted range of the second byte and how many continuation bytes follow.
            let second: ClosedRange<UInt8>
            let length: Int
            switch lead {
            case 0xC2...0xDF: (second, length) = (0x80...0xBF, 2)
            case 0xE0: (second, length) = (0xA0...0xBF, 3)
            case 0xE1...0xEC, 0xEE...0xEF: (second, length) = (0x80...0xBF, 3)
            case 0xED: (second, length) = (0x80...0x9F, 3)
            case 0xF0: (second, length) = (0x90...0xBF, 4)
            case 0xF1...0xF3: (second, length) = (0x80...0xBF, 4)
            case 0xF4: (second, length) = (0x80...0x8F, 4)
            case 0x80...0xBF: throw invalidUTF8(at: index, "is a continuation byte with no lead byte before it")
            default: throw invalidUTF8(at: index, "never appears in UTF-8 text")
            }
            guard index + 1 < bytes.count, bytes[index + 1] >= 0x80, bytes[index + 1] <= 0xBF else {
                throw invalidUTF8(at: index, "starts a \(length)-byte sequence that is cut short")
            }
            guard second.contains(bytes[index + 1]) else {
                throw invalidUTF8(at: index, "starts an overlong form, a surrogate or a code point above U+10FFFF")
            }
            for offset in 2..<length {
                guard index + offset < bytes.count, bytes[index + offset] & 0xC0 == 0x80 else {
                    throw invalidUTF8(at: index, "starts a \(length)-byte sequence that is cut short")
                }
            }
            index += length
        }
    }

    private func invalidUTF8(at offset: Int, _ problem: String) -> Diagnostic {
        Diagnostic(
            .yamlInvalidUTF8, "invalid UTF-8 at byte offset \(offset): byte \(Self.hex(bytes[offset])) \(problem)",
            at: location(ofByteOffset: offset),
            hint: "save the file as UTF-8; Moonflow never guesses an encoding or replaces bytes")
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return "0x" + (digits.count == 1 ? "0" + digits : digits)
    }

    static func describeSize(_ bytes: Int) -> String {
        let mib = 1_048_576
        let kib = 1_024
        if bytes >= mib && bytes % mib == 0 { return "\(bytes) bytes (\(bytes / mib) MiB)" }
        if bytes >= kib && bytes % kib == 0 { return "\(bytes) bytes (\(bytes / kib) KiB)" }
        return "\(bytes) bytes"
    }
}
