/// Bytes as hexadecimal text and back: the `hex` Lua library, hashes, W3C trace ids.
package enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Lowercase, two digits a byte.
    package static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of an even number of hex digits; `nil` for anything else. Uppercase digits are
    /// refused with `lowercaseOnly` (as W3C Trace Context asks).
    package static func decode(_ text: some Collection<UInt8>, lowercaseOnly: Bool = false) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70 where !lowercaseOnly: c - 55
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var high: UInt8?
        for c in text {
            guard let value = nibble(c) else { return nil }
            if let first = high {
                out.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return out
    }
}
