import MoonflowModel

/// A file's raw bytes and the position arithmetic its diagnostics need.
///
/// Lines and columns follow libyaml's marks (after the 1-based conversion): a line ends at `\n`,
/// `\r\n` or a lone `\r`; a column counts Unicode scalars; a leading UTF-8 BOM takes no column.
struct YAMLSource {
    let file: String
    let bytes: [UInt8]

    static let utf8BOM: [UInt8] = [0xEF, 0xBB, 0xBF]

    var hasBOM: Bool { bytes.starts(with: Self.utf8BOM) }

    func location(line: Int, column: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column)
    }

    /// The position of a byte offset (for errors that libyaml or our checks report by offset).
    func location(ofByteOffset offset: Int) -> SourceLocation {
        let end = min(offset, bytes.count)
        var line = 1
        var lineStart = hasBOM ? Self.utf8BOM.count : 0
        var index = lineStart
        while index < end {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\n") || (byte == UInt8(ascii: "\r") && (index >= bytes.count || bytes[index] != UInt8(ascii: "\n"))) {
                line += 1
                lineStart = index
            }
        }
        var column = 1
        for byte in bytes[min(lineStart, end)..<end] where byte & 0xC0 != 0x80 { column += 1 }
        return location(line: line, column: column)
    }

    /// The text of a 1-based line without its line break, or `nil` past the end.
    func lineText(_ number: Int) -> String? {
        guard number >= 1 else { return nil }
        var current = 1
        var index = hasBOM ? Self.utf8BOM.count : 0
        while current < number {
            guard let next = bytes[index...].firstIndex(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) else {
                return nil
            }
            index = next + 1
            if bytes[next] == UInt8(ascii: "\r"), index < bytes.count, bytes[index] == UInt8(ascii: "\n") { index += 1 }
            current += 1
        }
        let end = bytes[index...].firstIndex(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) ?? bytes.count
        return String(decoding: bytes[index..<end], as: UTF8.self)
    }

    /// The character at a location, if the location is inside a line.
    func character(at location: SourceLocation) -> Unicode.Scalar? {
        guard let text = lineText(location.line) else { return nil }
        let scalars = Array(text.unicodeScalars)
        return location.column >= 1 && location.column <= scalars.count ? scalars[location.column - 1] : nil
    }
}
