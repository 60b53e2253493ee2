import Foundation

/// Checks a standard 5-field cron expression (minute hour day-of-month month day-of-week) with
/// ranges, steps, lists and names, so a bad schedule is a load error, not a silent never-firing trigger.
enum CronCheck {
    private static let fields: [(name: String, range: ClosedRange<Int>, names: [String])] = [
        ("minute", 0...59, []),
        ("hour", 0...23, []),
        ("day of month", 1...31, []),
        ("month", 1...12, ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]),
        ("day of week", 0...7, ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]),
    ]

    /// A description of the first problem, or `nil` when the expression is valid: each field
    /// well formed, and some day it allows existing (`0 0 30 2 *` never fires).
    static func problem(in expression: String) -> String? {
        let parts = expression.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 5 else { return "expected 5 fields, found \(parts.count) in '\(expression)'" }
        var sets: [Set<Int>] = []
        for (part, field) in zip(parts, fields) {
            var values = Set<Int>()
            for item in part.split(separator: ",", omittingEmptySubsequences: false) {
                switch check(String(item), field) {
                case .failure(let problem): return "\(field.name) field: \(problem.text)"
                case .success(let more): values.formUnion(more)
                }
            }
            sets.append(values)
        }
        // With both day fields restricted either one may match (standard cron), and every month
        // has every weekday; otherwise the day of month must exist in some month allowed.
        let alternatives = !parts[2].hasPrefix("*") && !parts[4].hasPrefix("*")
        let longest = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        if !alternatives, !sets[3].contains(where: { month in sets[2].contains { $0 <= longest[month - 1] } }) {
            return "'\(expression)' can never fire: no month it allows has day \(sets[2].sorted().map(String.init).joined(separator: " or "))"
        }
        return nil
    }

    struct Problem: Error { var text: String }

    private static func check(_ item: String, _ field: (name: String, range: ClosedRange<Int>, names: [String])) -> Result<Set<Int>, Problem> {
        let stepParts = item.split(separator: "/", omittingEmptySubsequences: false)
        guard stepParts.count <= 2 else { return .failure(Problem(text: "'\(item)' has more than one '/'")) }
        var step = 1
        if stepParts.count == 2 {
            guard let s = Int(stepParts[1]), s > 0, s <= field.range.upperBound else { return .failure(Problem(text: "'\(stepParts[1])' is not a valid step")) }
            step = s
        }
        let base = String(stepParts[0])
        if base == "*" { return .success(Set(stride(from: field.range.lowerBound, through: field.range.upperBound, by: step))) }
        let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count <= 2, !base.isEmpty else { return .failure(Problem(text: "'\(item)' is not a value, range or list")) }
        var values: [Int] = []
        for bound in bounds {
            if let v = Int(bound), field.range.contains(v) {
                values.append(v)
            } else if let index = field.names.firstIndex(of: bound.uppercased()) {
                values.append(index + field.range.lowerBound)
            } else {
                return .failure(Problem(text: "'\(bound)' is outside \(field.range.lowerBound)-\(field.range.upperBound)"))
            }
        }
        if values.count == 2, values[0] > values[1] { return .failure(Problem(text: "range '\(base)' goes backwards")) }
        // `5/15` runs from 5 to the end of the range, as the engine reads it.
        let upper = values.count == 2 ? values[1] : (stepParts.count == 2 ? field.range.upperBound : values[0])
        return .success(Set(stride(from: values[0], through: upper, by: step)))
    }

    /// Whether `name` is an IANA time zone name (`Europe/Paris`, `UTC`, `Etc/GMT+5`): letters,
    /// digits, `_`, `+` and `-` in `/`-separated parts starting with a letter — never a path
    /// (`..`, a leading `/`) — and known to the time zone database. The engine's `CronSchedule`
    /// applies the same rule.
    static func isTimeZoneName(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard name.utf8.count <= 64, !parts.isEmpty,
            parts.allSatisfy({ part in
                guard let first = part.unicodeScalars.first, ("A"..."Z").contains(first) || ("a"..."z").contains(first) else { return false }
                return part.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_+-".unicodeScalars.contains($0)) }
            })
        else { return false }
        return TimeZone(identifier: name) != nil
    }
}
