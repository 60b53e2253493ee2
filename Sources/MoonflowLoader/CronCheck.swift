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

    /// A description of the first problem, or `nil` when the expression is valid.
    static func problem(in expression: String) -> String? {
        let parts = expression.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 5 else { return "expected 5 fields, found \(parts.count) in '\(expression)'" }
        for (part, field) in zip(parts, fields) {
            for item in part.split(separator: ",", omittingEmptySubsequences: false) {
                if let problem = check(String(item), field) { return "\(field.name) field: \(problem)" }
            }
        }
        return nil
    }

    private static func check(_ item: String, _ field: (name: String, range: ClosedRange<Int>, names: [String])) -> String? {
        let stepParts = item.split(separator: "/", omittingEmptySubsequences: false)
        guard stepParts.count <= 2 else { return "'\(item)' has more than one '/'" }
        if stepParts.count == 2 {
            guard let step = Int(stepParts[1]), step > 0, step <= field.range.upperBound else { return "'\(stepParts[1])' is not a valid step" }
        }
        let base = String(stepParts[0])
        if base == "*" { return nil }
        let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count <= 2, !base.isEmpty else { return "'\(item)' is not a value, range or list" }
        var values: [Int] = []
        for bound in bounds {
            if let v = Int(bound), field.range.contains(v) {
                values.append(v)
            } else if let index = field.names.firstIndex(of: bound.uppercased()) {
                values.append(index + field.range.lowerBound)
            } else {
                return "'\(bound)' is outside \(field.range.lowerBound)-\(field.range.upperBound)"
            }
        }
        if values.count == 2, values[0] > values[1] { return "range '\(base)' goes backwards" }
        return nil
    }
}
