import Foundation

/// Durations (`500ms`, `30s`, `5m`, `2h`, `1d`, `1h30m`, ISO 8601 `PT30S`) and sizes (`512KB`, `16MB`,
/// `64Mi`) as docs/workflow-format.md writes them. Parsing returns `nil` with a reason instead of guessing.
enum Quantities {
    enum Failure: Error, Equatable {
        case invalid(String)
        case negative
    }

    private static let units: [(String, Int64)] = [
        ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
        ("d", 86_400_000_000_000),
    ]

    static func duration(_ text: String) -> Result<Duration, Failure> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("-") { return .failure(.negative) }
        if trimmed.hasPrefix("P") { return iso8601Duration(trimmed) }
        if trimmed.contains(":") { return .failure(.invalid("clock notation is ambiguous; write 1m30s or 90s")) }
        var total: Int64 = 0
        var rest = Substring(trimmed)
        guard !rest.isEmpty else { return .failure(.invalid("an empty duration")) }
        var lastUnitRank = Int.max
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !digits.isEmpty, let amount = Double(digits) else {
                return .failure(.invalid("expected a number before the unit"))
            }
            rest = rest.dropFirst(digits.count)
            let unitText = rest.prefix { $0.isASCII && $0.isLetter }
            guard !unitText.isEmpty else {
                return .failure(.invalid("a duration needs a unit: ms, s, m, h or d (e.g. \(digits)s)"))
            }
            guard let rank = units.firstIndex(where: { $0.0 == unitText }) else {
                return .failure(.invalid("unknown unit '\(unitText)': use ms, s, m, h or d"))
            }
            // `1h30m` is fine, `30m1h` or `1s1s` is not.
            guard rank < lastUnitRank else { return .failure(.invalid("units must go from largest to smallest")) }
            lastUnitRank = rank
            rest = rest.dropFirst(unitText.count)
            let nanos = amount * Double(units[rank].1)
            guard nanos.isFinite, nanos < 9e18 else { return .failure(.invalid("too long")) }
            total += Int64(nanos.rounded())
        }
        return .success(.nanoseconds(total))
    }

    /// ISO 8601 durations with days and time parts: `P1D`, `PT30S`, `PT1H30M`, `P1DT0.5S`.
    private static func iso8601Duration(_ text: String) -> Result<Duration, Failure> {
        var rest = Substring(text.dropFirst())
        var inTime = false
        var total = 0.0
        var sawPart = false
        while !rest.isEmpty {
            if rest.first == "T" {
                guard !inTime else { return .failure(.invalid("'T' appears twice")) }
                inTime = true
                rest = rest.dropFirst()
                continue
            }
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == "." || $0 == ",") }
            guard !digits.isEmpty, let amount = Double(digits.replacingOccurrences(of: ",", with: ".")) else {
                return .failure(.invalid("expected a number in the ISO 8601 duration"))
            }
            rest = rest.dropFirst(digits.count)
            guard let designator = rest.first else { return .failure(.invalid("missing a designator after \(digits)")) }
            rest = rest.dropFirst()
            let seconds: Double
            switch (inTime, designator) {
            case (false, "W"): seconds = 604_800
            case (false, "D"): seconds = 86_400
            case (true, "H"): seconds = 3_600
            case (true, "M"): seconds = 60
            case (true, "S"): seconds = 1
            case (false, "Y"), (false, "M"):
                return .failure(.invalid("years and months have no fixed length: use days (P30D)"))
            default: return .failure(.invalid("unexpected '\(designator)' in the ISO 8601 duration"))
            }
            total += amount * seconds
            sawPart = true
        }
        guard sawPart else { return .failure(.invalid("an ISO 8601 duration needs at least one part (PT30S)")) }
        guard total < 9e9 else { return .failure(.invalid("too long")) }
        return .success(.nanoseconds(Int64((total * 1e9).rounded())))
    }

    private static let sizeUnits: [String: Int] = [
        "B": 1, "KB": 1 << 10, "K": 1 << 10, "KI": 1 << 10, "KIB": 1 << 10, "MB": 1 << 20, "M": 1 << 20, "MI": 1 << 20,
        "MIB": 1 << 20, "GB": 1 << 30, "G": 1 << 30, "GI": 1 << 30, "GIB": 1 << 30,
    ]

    /// Bytes; units are binary (1KB = 1024 bytes), as memory limits usually are.
    static func size(_ text: String) -> Result<Int, Failure> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("-") { return .failure(.negative) }
        let digits = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !digits.isEmpty, let amount = Double(digits) else {
            return .failure(.invalid("expected a size such as 512KB or 16MB"))
        }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).uppercased()
        guard let multiplier = sizeUnits[unit] else {
            return .failure(.invalid("unknown size unit '\(unit)': use B, KB, MB or GB (Ki/Mi/Gi also accepted)"))
        }
        let bytes = amount * Double(multiplier)
        guard bytes < 1e15 else { return .failure(.invalid("too large")) }
        return .success(Int(bytes.rounded()))
    }
}

extension Duration {
    /// The shortest exact form in the units workflows use: `2h`, `1h30m`, `500ms`.
    var moonflowText: String {
        var nanos = nanoseconds
        if nanos == 0 { return "0s" }
        var out = nanos < 0 ? "-" : ""
        nanos = abs(nanos)
        let units: [(String, Int64)] = [("d", 86_400_000_000_000), ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000)]
        for (unit, size) in units where nanos >= size {
            out += "\(nanos / size)\(unit)"
            nanos %= size
        }
        if nanos > 0 { out += "\(nanos)ns" }
        return out
    }
}

