import Foundation

/// A standard 5-field cron expression (minute hour day-of-month month day-of-week) with ranges,
/// steps, lists and names, evaluated in a time zone (SPEC §2: `schedule: {cron, timezone}`).
///
/// Fire times are wall-clock times of the zone, so daylight saving time is handled like this:
/// a wall time skipped by a spring-forward jump fires once at the first instant after the jump;
/// a wall time repeated by a fall-back fires once, at its first occurrence. A schedule never
/// fires twice for one wall time and never bursts.
public struct CronSchedule: Sendable, Hashable {
    public let expression: String
    public let timeZone: TimeZone
    let minutes: [Int]
    let hours: [Int]
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 = Sunday … 6 = Saturday (7 in the expression is folded to 0).
    let daysOfWeek: Set<Int>
    /// Standard cron: when both day fields are restricted, a day matching either one fires.
    let dayFieldsAreAlternatives: Bool

    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    private static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    private static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// `timeZone`: an IANA identifier (`Europe/Paris`); `nil` means UTC.
    public init(_ expression: String, timeZone identifier: String? = nil) throws(ParseError) {
        let fields = expression.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else { throw ParseError(description: "expected 5 fields in '\(expression)'") }
        guard let zone = identifier.map({ TimeZone(identifier: $0) }) ?? TimeZone(identifier: "UTC") else {
            throw ParseError(description: "unknown time zone '\(identifier ?? "")'")
        }
        self.expression = expression
        self.timeZone = zone
        minutes = try Self.values(fields[0], 0...59, names: []).sorted()
        hours = try Self.values(fields[1], 0...23, names: []).sorted()
        daysOfMonth = try Self.values(fields[2], 1...31, names: [])
        months = try Self.values(fields[3], 1...12, names: Self.monthNames)
        daysOfWeek = Set(try Self.values(fields[4], 0...7, names: Self.dayNames).map { $0 % 7 })
        dayFieldsAreAlternatives = !fields[2].hasPrefix("*") && !fields[4].hasPrefix("*")
    }

    /// The first fire time strictly after `instant`, or `nil` when none comes within five years
    /// (`0 0 30 2 *` never fires).
    public func next(after instant: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let firstDay = calendar.startOfDay(for: instant)
        for offset in 0..<(366 * 5) {
            guard let day = calendar.date(byAdding: .day, value: offset, to: firstDay) else { return nil }
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            guard let year = parts.year, let month = parts.month, let dayOfMonth = parts.day, let weekday = parts.weekday,
                months.contains(month), matchesDay(dayOfMonth, weekday: weekday - 1)
            else { continue }
            for hour in hours {
                for minute in minutes {
                    let wall = DateComponents(year: year, month: month, day: dayOfMonth, hour: hour, minute: minute)
                    if let candidate = calendar.date(from: wall), candidate > instant { return candidate }
                }
            }
        }
        return nil
    }

    private func matchesDay(_ dayOfMonth: Int, weekday: Int) -> Bool {
        let domMatches = daysOfMonth.contains(dayOfMonth)
        let dowMatches = daysOfWeek.contains(weekday)
        return dayFieldsAreAlternatives ? (domMatches || dowMatches) : (domMatches && dowMatches)
    }

    private static func values(_ field: String, _ range: ClosedRange<Int>, names: [String]) throws(ParseError) -> Set<Int> {
        var result = Set<Int>()
        for item in field.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2 else { throw ParseError(description: "'\(item)' has more than one '/'") }
            var step = 1
            if stepParts.count == 2 {
                guard let s = Int(stepParts[1]), s > 0 else { throw ParseError(description: "'\(stepParts[1])' is not a step") }
                step = s
            }
            let base = stepParts[0]
            let bounds: ClosedRange<Int>
            if base == "*" {
                bounds = range
            } else {
                let ends = try base.split(separator: "-", omittingEmptySubsequences: false).map { part throws(ParseError) in
                    try value(String(part), range, names: names)
                }
                guard let low = ends.first, ends.count <= 2, low <= (ends.last ?? low) else {
                    throw ParseError(description: "'\(item)' is not a value, range or list")
                }
                // `5/15` means from 5 to the end of the range, every 15.
                bounds = low...(ends.count == 2 ? ends[1] : (stepParts.count == 2 ? range.upperBound : low))
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }

    private static func value(_ text: String, _ range: ClosedRange<Int>, names: [String]) throws(ParseError) -> Int {
        if let number = Int(text), range.contains(number) { return number }
        if let index = names.firstIndex(of: text.uppercased()) { return index + range.lowerBound }
        throw ParseError(description: "'\(text)' is outside \(range.lowerBound)-\(range.upperBound)")
    }
}
