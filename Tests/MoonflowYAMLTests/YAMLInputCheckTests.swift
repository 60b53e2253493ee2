import MoonflowModel
import MoonflowYAML
import Testing

/// Size, encoding and strict UTF-8: checked before libyaml reads a byte.
@Suite struct YAMLInputCheckTests {
    @Test func fileOverTheLimitIsRefusedBeforeParsing() {
        // Not even YAML: the size check must come first.
        let bytes = [UInt8](repeating: UInt8(ascii: "["), count: 2_097_152)
        #expect(
            errors(bytes, file: "big.yaml") == [
                "big.yaml:1:1: error[FileTooLarge]: the file is 2097152 bytes (2 MiB), larger than the limit of 1048576 bytes (1 MiB)"
            ])
    }

    @Test func sizeLimitIsInclusive() throws {
        let text = "a: 1234567\n"  // 11 bytes
        #expect(throws: Never.self) { try parse(text, limits: YAMLLimits(maxFileSize: 11)) }
        #expect(
            errors(text, limits: YAMLLimits(maxFileSize: 10)) == [
                "w.yaml:1:1: error[FileTooLarge]: the file is 11 bytes, larger than the limit of 10 bytes"
            ])
    }

    /// Text followed by raw bytes.
    static func bytes(_ text: String, _ raw: UInt8...) -> [UInt8] { Array(text.utf8) + raw }

    static let invalidUTF8Cases: [(bytes: [UInt8], expected: String)] = [
        // truncated two-byte sequence at the end of a line
        (bytes("a: caf", 0xC3, 0x0A),
         "w.yaml:1:7: error[InvalidUTF8]: invalid UTF-8 at byte offset 6: byte 0xC3 starts a 2-byte sequence that is cut short"),
        // a byte that never occurs in UTF-8, on line 2
        (bytes("a: 1\nb: ", 0xFF, 0x0A),
         "w.yaml:2:4: error[InvalidUTF8]: invalid UTF-8 at byte offset 8: byte 0xFF never appears in UTF-8 text"),
        // a continuation byte after a two-byte character: columns count characters
        (bytes("é: ", 0x80),
         "w.yaml:1:4: error[InvalidUTF8]: invalid UTF-8 at byte offset 4: byte 0x80 is a continuation byte with no lead byte before it"),
        // overlong encoding of "/"
        (bytes("a: ", 0xE0, 0x80, 0xAF),
         "w.yaml:1:4: error[InvalidUTF8]: invalid UTF-8 at byte offset 3: byte 0xE0 starts an overlong form, a surrogate or a code point above U+10FFFF"),
        // an encoded surrogate (CESU-8)
        (bytes("a: ", 0xED, 0xA0, 0x80),
         "w.yaml:1:4: error[InvalidUTF8]: invalid UTF-8 at byte offset 3: byte 0xED starts an overlong form, a surrogate or a code point above U+10FFFF"),
        // above U+10FFFF
        (bytes("a: ", 0xF4, 0x90, 0x80, 0x80),
         "w.yaml:1:4: error[InvalidUTF8]: invalid UTF-8 at byte offset 3: byte 0xF4 starts an overlong form, a surrogate or a code point above U+10FFFF"),
        // four-byte sequence cut short by a newline
        (bytes("a: ", 0xF0, 0x9F, 0x98, 0x0A),
         "w.yaml:1:4: error[InvalidUTF8]: invalid UTF-8 at byte offset 3: byte 0xF0 starts a 4-byte sequence that is cut short"),
        // after a BOM the column does not count the BOM, as in libyaml's marks
        (bytes("\u{FEFF}a: ", 0xC0, 0xAF),
         "w.yaml:1:4: error[InvalidUTF8]: invalid UTF-8 at byte offset 6: byte 0xC0 never appears in UTF-8 text"),
    ]

    @Test(arguments: invalidUTF8Cases)
    func invalidUTF8IsReportedWithOffsetAndPosition(bytes: [UInt8], expected: String) {
        #expect(errors(bytes) == [expected])
    }

    @Test func invalidUTF8CarriesAHint() {
        let found = diagnostics(Self.bytes("a: ", 0xFF))
        #expect(found.first?.hint == "save the file as UTF-8; Moonflow never guesses an encoding or replaces bytes")
    }

    @Test func validMultiByteTextIsAccepted() throws {
        #expect(try value("name: \"日本語 🚀\"\n") == ["name": "日本語 🚀"])
    }

    @Test func utf8ByteOrderMarkIsAccepted() throws {
        let root = try YAMLParser.parse(Self.bytes("\u{FEFF}a: é\nb: 2\n"), file: "bom.yaml")
        #expect(try root.toValue() == ["a": "é", "b": 2])
        let pairs = try #require(root.mapping)
        #expect(pairs[0].key.location == MoonflowModel.SourceLocation(file: "bom.yaml", line: 1, column: 1))
        #expect(pairs[1].value.location == MoonflowModel.SourceLocation(file: "bom.yaml", line: 2, column: 4))
    }

    static let wideEncodings: [(bytes: [UInt8], message: String)] = [
        ([0xFF, 0xFE, 0x61, 0x00, 0x3A, 0x00], "the file is encoded as UTF-16 (little-endian); Moonflow reads only UTF-8"),
        ([0xFE, 0xFF, 0x00, 0x61, 0x00, 0x3A], "the file is encoded as UTF-16 (big-endian); Moonflow reads only UTF-8"),
        ([0xFF, 0xFE, 0x00, 0x00, 0x61, 0x00, 0x00, 0x00], "the file is encoded as UTF-32 (little-endian); Moonflow reads only UTF-8"),
        ([0x00, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x00, 0x61], "the file is encoded as UTF-32 (big-endian); Moonflow reads only UTF-8"),
        ([0x00, 0x61, 0x00, 0x3A], "the file has a NUL byte in its first two bytes, so it looks like UTF-16 or UTF-32; Moonflow reads only UTF-8"),
        ([0x61, 0x00, 0x3A, 0x00], "the file has a NUL byte in its first two bytes, so it looks like UTF-16 or UTF-32; Moonflow reads only UTF-8"),
    ]

    @Test(arguments: wideEncodings)
    func utf16AndUTF32AreRefused(bytes: [UInt8], message: String) {
        let found = diagnostics(bytes)
        #expect(found.map(\.description) == ["w.yaml:1:1: error[UnsupportedEncoding]: \(message)"])
        #expect(found.first?.hint == "convert it to UTF-8, e.g. `iconv -f UTF-16 -t UTF-8 file.yaml`")
    }
}
