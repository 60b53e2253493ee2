/// The `format` values this validator can assert (with `Options.assertFormats`); others stay annotations.
package enum SchemaFormat: String, CaseIterable, Sendable {
    case dateTime = "date-time"
    case date
    case email
    case uuid
    case uri
    case ipv4
    case ipv6

    /// Whether `text` is a valid instance of the format.
    package func accepts(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        switch self {
        case .dateTime: return FormatCheck.dateTime(bytes)
        case .date: return FormatCheck.date(bytes[...])
        case .email: return FormatCheck.email(bytes)
        case .uuid: return FormatCheck.uuid(bytes)
        case .uri: return FormatCheck.uri(bytes)
        case .ipv4: return FormatCheck.ipv4(bytes[...])
        case .ipv6: return FormatCheck.ipv6(bytes[...])
        }
    }
}

/// Byte-level checks after RFC 3339 (dates), RFC 5321 (e-mail), RFC 4122 (UUID),
/// RFC 3986 (URI), RFC 2673 and RFC 4291 (IP addresses). ASCII only: any other byte fails.
private enum FormatCheck {
    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
    static func isHex(_ b: UInt8) -> Bool { isDigit(b) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x66) }

    /// The decimal value of exactly `count` ASCII digits at `start`.
    static func number(_ bytes: ArraySlice<UInt8>, _ start: Int, _ count: Int) -> Int? {
        guard start + count <= bytes.endIndex else { return nil }
        var value = 0
        for b in bytes[start..<start + count] {
            guard isDigit(b) else { return nil }
            value = value * 10 + Int(b - 0x30)
        }
        return value
    }

    static func date(_ bytes: ArraySlice<UInt8>) -> Bool {
        let s = bytes.startIndex
        guard bytes.count == 10, bytes[s + 4] == UInt8(ascii: "-"), bytes[s + 7] == UInt8(ascii: "-"),
            let year = number(bytes, s, 4), let month = number(bytes, s + 5, 2), let day = number(bytes, s + 8, 2),
            (1...12).contains(month), day >= 1
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= days[month - 1]
    }

    static func dateTime(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 20, date(bytes[0..<10]), bytes[10] | 0x20 == UInt8(ascii: "t") else { return false }
        let all = bytes[...]
        guard bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let hour = number(all, 11, 2), let minute = number(all, 14, 2), let second = number(all, 17, 2),
            hour <= 23, minute <= 59, second <= 60
        else { return false }
        var i = 19
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
            guard i > start else { return false }
        }
        guard i < bytes.count else { return false }
        var offsetMinutes = 0
        if bytes[i] | 0x20 == UInt8(ascii: "z") {
            guard i + 1 == bytes.count else { return false }
        } else {
            guard bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-"), i + 6 == bytes.count,
                bytes[i + 3] == UInt8(ascii: ":"), let oh = number(all, i + 1, 2),
                let om = number(all, i + 4, 2), oh <= 23, om <= 59
            else { return false }
            offsetMinutes = (oh * 60 + om) * (bytes[i] == UInt8(ascii: "+") ? 1 : -1)
        }
        if second == 60 {
            // A leap second exists only at 23:59:60 UTC.
            let utc = ((hour * 60 + minute - offsetMinutes) % 1440 + 1440) % 1440
            return utc == 23 * 60 + 59
        }
        return true
    }

    static func uuid(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == 36 else { return false }
        for (index, b) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard b == UInt8(ascii: "-") else { return false }
            } else if !isHex(b) {
                return false
            }
        }
        return true
    }

    static func ipv4(_ bytes: ArraySlice<UInt8>) -> Bool {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(isDigit),
                part.count == 1 || part.first != UInt8(ascii: "0"),
                let value = number(part, part.startIndex, part.count), value <= 255
            else { return false }
        }
        return true
    }

    static func ipv6(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= 45 else { return false }
        var halves: [ArraySlice<UInt8>] = []
        var rest = bytes
        while let i = rest.indices.first(where: { rest[$0] == UInt8(ascii: ":") && $0 + 1 < rest.endIndex && rest[$0 + 1] == UInt8(ascii: ":") }) {
            halves.append(rest[rest.startIndex..<i])
            rest = rest[(i + 2)...]
        }
        halves.append(rest)
        guard halves.count <= 2 else { return false }
        // Counts the 16-bit groups of one side; an embedded IPv4 address may only end the address.
        func groups(_ part: ArraySlice<UInt8>, mayEndWithIPv4: Bool) -> Int? {
            if part.isEmpty { return 0 }
            let fields = part.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            var total = 0
            for (index, field) in fields.enumerated() {
                if mayEndWithIPv4, index == fields.count - 1, field.contains(UInt8(ascii: ".")) {
                    guard ipv4(field) else { return nil }
                    total += 2
                } else {
                    guard (1...4).contains(field.count), field.allSatisfy(isHex) else { return nil }
                    total += 1
                }
            }
            return total
        }
        if halves.count == 1 { return groups(bytes, mayEndWithIPv4: true) == 8 }
        guard let head = groups(halves[0], mayEndWithIPv4: false), let tail = groups(halves[1], mayEndWithIPv4: true)
        else { return false }
        return head + tail <= 7
    }

    static func hostname(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        return bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.count) && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
                && label.allSatisfy { isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: "-") }
        }
    }

    static func email(_ bytes: [UInt8]) -> Bool {
        var i = 0
        if bytes.first == UInt8(ascii: "\"") {
            i = 1
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                guard i < bytes.count, bytes[i] >= 0x20, bytes[i] < 0x7F else { return false }
                i += 1
            }
            guard i < bytes.count else { return false }
            i += 1
        } else {
            let atext = Set("!#$%&'*+-/=?^_`{|}~".utf8)
            var previousDot = true
            while i < bytes.count, bytes[i] != UInt8(ascii: "@") {
                let b = bytes[i]
                if b == UInt8(ascii: ".") {
                    guard !previousDot else { return false }
                    previousDot = true
                } else {
                    guard isAlpha(b) || isDigit(b) || atext.contains(b) else { return false }
                    previousDot = false
                }
                i += 1
            }
            guard !previousDot else { return false }
        }
        guard i < bytes.count, bytes[i] == UInt8(ascii: "@") else { return false }
        let domain = bytes[(i + 1)...]
        if domain.first == UInt8(ascii: "["), domain.last == UInt8(ascii: "]") {
            let literal = domain.dropFirst().dropLast()
            let prefix = Array("IPv6:".utf8)
            if literal.starts(with: prefix) { return ipv6(literal.dropFirst(prefix.count)) }
            return ipv4(literal)
        }
        return hostname(domain)
    }

    static func uri(_ bytes: [UInt8]) -> Bool {
        let unreserved = Set("-._~".utf8)
        let subDelims = Set("!$&'()*+,;=".utf8)
        // Characters of `allowed` or letters, digits, unreserved, sub-delims and %XX escapes.
        func valid(_ part: ArraySlice<UInt8>, _ allowed: String) -> Bool {
            let extra = Set(allowed.utf8)
            var i = part.startIndex
            while i < part.endIndex {
                let b = part[i]
                if b == UInt8(ascii: "%") {
                    guard i + 2 < part.endIndex, isHex(part[i + 1]), isHex(part[i + 2]) else { return false }
                    i += 3
                    continue
                }
                guard isAlpha(b) || isDigit(b) || unreserved.contains(b) || subDelims.contains(b) || extra.contains(b)
                else { return false }
                i += 1
            }
            return true
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0, isAlpha(bytes[0]),
            bytes[..<colon].allSatisfy({ isAlpha($0) || isDigit($0) || "+-.".utf8.contains($0) })
        else { return false }
        var rest = bytes[(colon + 1)...]
        if let hash = rest.firstIndex(of: UInt8(ascii: "#")) {
            guard valid(rest[(hash + 1)...], ":@/?") else { return false }
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: UInt8(ascii: "?")) {
            guard valid(rest[(question + 1)...], ":@/?") else { return false }
            rest = rest[..<question]
        }
        if rest.starts(with: [UInt8(ascii: "/"), UInt8(ascii: "/")]) {
            rest = rest.dropFirst(2)
            let end = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            var authority = rest[..<end]
            rest = rest[end...]
            if let at = authority.lastIndex(of: UInt8(ascii: "@")) {
                guard valid(authority[..<at], ":") else { return false }
                authority = authority[(at + 1)...]
            }
            if authority.first == UInt8(ascii: "[") {
                guard let close = authority.firstIndex(of: UInt8(ascii: "]")),
                    ipv6(authority[(authority.startIndex + 1)..<close]) || ipvFuture(authority[(authority.startIndex + 1)..<close])
                else { return false }
                authority = authority[(close + 1)...]
                if !authority.isEmpty {
                    guard authority.first == UInt8(ascii: ":"), authority.dropFirst().allSatisfy(isDigit) else { return false }
                }
            } else {
                if let portColon = authority.firstIndex(of: UInt8(ascii: ":")) {
                    guard authority[(portColon + 1)...].allSatisfy(isDigit) else { return false }
                    authority = authority[..<portColon]
                }
                guard valid(authority, "") else { return false }
            }
        }
        return valid(rest, ":@/")
    }

    static func ipvFuture(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard (bytes.first ?? 0) | 0x20 == UInt8(ascii: "v") else { return false }
        let body = bytes.dropFirst()
        guard let dot = body.firstIndex(of: UInt8(ascii: ".")), dot > body.startIndex,
            body[..<dot].allSatisfy(isHex), dot + 1 < body.endIndex
        else { return false }
        return body[(dot + 1)...].allSatisfy { isAlpha($0) || isDigit($0) || "-._~!$&'()*+,;=:".utf8.contains($0) }
    }
}
