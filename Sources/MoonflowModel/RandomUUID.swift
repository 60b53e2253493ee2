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
        let digits = hex(high, 16) + hex(low, 16)
        var text = ""
        text.reserveCapacity(36)
        for (index, digit) in digits.enumerated() {
            if index == 8 || index == 12 || index == 16 || index == 20 { text.append("-") }
            text.append(digit)
        }
        return text
    }

    /// 32 lowercase hex digits and no dashes.
    package static func compact() -> String { make().filter { $0 != "-" } }

    private static func hex(_ value: UInt64, _ width: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: width - text.count) + text
    }
}
