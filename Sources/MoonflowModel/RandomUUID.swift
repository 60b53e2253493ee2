/// Random (version 4) UUIDs as lowercase text, drawn from the system's generator (`getrandom`):
/// Foundation's `UUID()` opens `/dev/urandom` for each one, a system call more per run started.
package enum RandomUUID {
    /// `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, `y` one of `8`, `9`, `a`, `b`.
    package static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & ~0xF000) | 0x4000  // version 4
        low = (low & ~(0xC << 60)) | (0x8 << 60)  // RFC 4122 variant
        // Written as ASCII into the string's own storage: a run id is made per run started.
        return String(unsafeUninitializedCapacity: 36) { text in
            let digits: StaticString = "0123456789abcdef"
            return digits.withUTF8Buffer { digits in
                var position = 0
                for index in 0..<32 {
                    if index == 8 || index == 12 || index == 16 || index == 20 {
                        text[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    let word = index < 16 ? high : low
                    text[position] = digits[Int((word >> UInt64(60 - 4 * (index % 16))) & 0xF)]
                    position += 1
                }
                return position
            }
        }
    }

    /// 32 lowercase hex digits and no dashes.
    package static func compact() -> String { make().filter { $0 != "-" } }
}
