import MoonflowModel

/// A JSON number as `Value` holds it, compared exactly (never through a lossy `Double(Int64)`).
enum JSONNumber: Sendable, CustomStringConvertible {
    case int(Int64)
    case double(Double)

    init?(_ value: Value) {
        switch value {
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        default: return nil
        }
    }

    var description: String {
        switch self {
        case .int(let i): String(i)
        case .double(let d):
            d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : "\(d)"
        }
    }

    /// -1, 0 or 1 as `self` is below, equal to or above `other`.
    func compare(_ other: JSONNumber) -> Int {
        switch (self, other) {
        case let (.int(a), .int(b)): return a < b ? -1 : (a == b ? 0 : 1)
        case let (.double(a), .double(b)): return a < b ? -1 : (a == b ? 0 : 1)
        case let (.int(a), .double(b)): return JSONNumber.compare(a, b)
        case let (.double(a), .int(b)): return -JSONNumber.compare(b, a)
        }
    }

    private static func compare(_ i: Int64, _ d: Double) -> Int {
        if d >= 9_223_372_036_854_775_808.0 { return -1 }
        if d < -9_223_372_036_854_775_808.0 { return 1 }
        let whole = d.rounded(.down)
        let wholeInt = Int64(whole)
        if i != wholeInt { return i < wholeInt ? -1 : 1 }
        return d == whole ? 0 : -1
    }

    /// True for integers and for doubles with a zero fractional part (JSON Schema's "integer").
    var isIntegral: Bool {
        switch self {
        case .int: true
        case .double(let d): d.isFinite && d == d.rounded()
        }
    }

    /// The number as an exact decimal `mantissa × 10^exponent` (mantissa without trailing zeros),
    /// read from the shortest round-tripping text, so `0.1` is 1×10⁻¹ and not its binary neighbour.
    var decimal: Decimal10 {
        switch self {
        case .int(let i): return Decimal10(mantissa: i.magnitude, exponent: 0).normalized
        case .double(let d): return Decimal10(parsing: "\(d.magnitude)")
        }
    }

    /// Whether `self` is an integer multiple of `divisor` (> 0), decided in decimal arithmetic
    /// so that `19.99` is a multiple of `0.01` and `1e308` is a multiple of `0.5`.
    func isMultiple(of divisor: Decimal10) -> Bool {
        if case .int(let i) = self, divisor.exponent >= 0, divisor.exponent < 19 {
            let (scaled, overflow) = divisor.mantissa.multipliedReportingOverflow(by: Decimal10.power(divisor.exponent))
            if !overflow { return i.magnitude % scaled == 0 }
        }
        return decimal.isMultiple(of: divisor)
    }
}

/// A non-negative decimal `mantissa × 10^exponent`.
struct Decimal10: Sendable, Equatable {
    var mantissa: UInt64
    var exponent: Int

    init(mantissa: UInt64, exponent: Int) {
        self.mantissa = mantissa
        self.exponent = exponent
    }

    /// Parses Swift's `description` of a finite non-negative double (`12.5`, `1e-08`, `1.0e+308`).
    init(parsing text: String) {
        var digits: UInt64 = 0
        var exponent = 0
        var afterPoint = false
        var exponentText = ""
        var inExponent = false
        for scalar in text.unicodeScalars {
            if inExponent { exponentText.unicodeScalars.append(scalar); continue }
            switch scalar {
            case ".": afterPoint = true
            case "e", "E": inExponent = true
            default:
                guard scalar.isASCIIDigit else { continue }
                digits = digits * 10 + UInt64(scalar.value - 48)
                if afterPoint { exponent -= 1 }
            }
        }
        self.init(mantissa: digits, exponent: exponent + (Int(exponentText) ?? 0))
        self = normalized
    }

    var normalized: Decimal10 {
        var copy = self
        guard copy.mantissa != 0 else { return Decimal10(mantissa: 0, exponent: 0) }
        while copy.mantissa % 10 == 0 {
            copy.mantissa /= 10
            copy.exponent += 1
        }
        return copy
    }

    static func power(_ n: Int) -> UInt64 {
        var result: UInt64 = 1
        for _ in 0..<n { result *= 10 }
        return result
    }

    /// `self / divisor` is an integer: for `a·10^p / (b·10^q)`, with `e = p - q`,
    /// `a·10^e ≡ 0 (mod b)` when `e ≥ 0`, else `b·10^(-e)` must divide `a`.
    func isMultiple(of divisor: Decimal10) -> Bool {
        if mantissa == 0 { return true }
        guard divisor.mantissa != 0 else { return false }
        let e = exponent - divisor.exponent
        if e >= 0 {
            let b = UInt128(divisor.mantissa)
            var remainder = UInt128(mantissa) % b
            for _ in 0..<e where remainder != 0 {
                remainder = remainder * 10 % b
            }
            return remainder == 0
        }
        guard -e < 20 else { return false }
        let (scaled, overflow) = UInt128(divisor.mantissa).multipliedReportingOverflow(by: UInt128(Decimal10.power(-e)))
        return !overflow && UInt128(mantissa) % scaled == 0
    }
}
