package import Foundation

/// A standard 5-field cron expression (minute hour day-of-month month day-of-week) with ranges,
/// steps, lists and names, evaluated in a time zone (docs/workflow-format.md: `schedule: {cron, timezone}`).
///
/// Fire times are wall-clock times of the zone, so daylight saving time is handled like this:
/// a wall time skipped by a spring-forward jump fires once at the first instant after the jump;
/// a wall time repeated by a fall-back fires once, at its first occurrence. A schedule never
/// fires twice for one wall time and never bursts.
package struct CronSchedule: Sendable, Hashable {
    package let expression: String
    package let timeZone: TimeZone
    let minutes: [Int]
    let hours: [Int]
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 = Sunday … 6 = Saturday (7 in the expression is folded to 0).
    let daysOfWeek: Set<Int>
    /// Standard cron: when both day fields are restricted, a day matching either one fires.
    let dayFieldsAreAlternatives: Bool

    package struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        package var description: String
    }

    private static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    private static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// `timeZone`: an IANA identifier (`Europe/Paris`); `nil` means UTC. A schedule that can never
    /// fire (`0 0 30 2 *`) and a time zone that is not an IANA name (`../../etc/passwd`) throw.
    package init(_ expression: String, timeZone identifier: String? = nil) throws(ParseError) {
        let fields = expression.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else { throw ParseError(description: "expected 5 fields in '\(expression)'") }
        guard let zone = Self.zone(named: identifier ?? "UTC") else {
            throw ParseError(description: "'\(identifier ?? "")' is not an IANA time zone name such as Europe/Paris or UTC")
        }
        self.expression = expression
        self.timeZone = zone
        minutes = try Self.values(fields[0], 0...59, names: []).sorted()
        hours = try Self.values(fields[1], 0...23, names: []).sorted()
        daysOfMonth = try Self.values(fields[2], 1...31, names: [])
        months = try Self.values(fields[3], 1...12, names: Self.monthNames)
        daysOfWeek = Set(try Self.values(fields[4], 0...7, names: Self.dayNames).map { $0 % 7 })
        dayFieldsAreAlternatives = !fields[2].hasPrefix("*") && !fields[4].hasPrefix("*")
        if !dayFieldsAreAlternatives, !months.contains(where: { month in daysOfMonth.contains { $0 <= Self.longestMonth[month - 1] } }) {
            throw ParseError(description: "'\(expression)' can never fire: no month it allows has day \(daysOfMonth.sorted().map(String.init).joined(separator: " or "))")
        }
    }

    /// The most days each month ever has (29 for February, in leap years).
    static let longestMonth = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

    /// A time zone by IANA name: letters, digits, `_`, `+` and `-` in `/`-separated parts, never a
    /// path (`..`, a leading `/`), and known to the time zone database.
    package static func zone(named name: String) -> TimeZone? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard name.utf8.count <= 64, !parts.isEmpty,
            parts.allSatisfy({ part in
                guard let first = part.unicodeScalars.first, ("A"..."Z").contains(first) || ("a"..."z").contains(first) else { return false }
                return part.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_+-".unicodeScalars.contains($0)) }
            })
        else { return nil }
        return TimeZone(identifier: name)
    }

    /// How far ahead `next(after:)` looks. Every schedule the initialiser accepts fires within it:
    /// the rarest, 29 February on one weekday, recurs within 40 years.
    static let horizonYears = 50

    /// The first fire time strictly after `instant`, or `nil` when none comes within
    /// `horizonYears`. Months the schedule excludes are skipped whole and weekdays are computed,
    /// so the cost is a few calendar conversions per matching day looked at, never a day-by-day scan.
    package func next(after instant: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let start = calendar.dateComponents([.year, .month, .day, .hour], from: instant)
        guard var year = start.year, var month = start.month, let firstDay = start.day, let firstHour = start.hour else { return nil }
        var day = firstDay
        for _ in 0..<(12 * Self.horizonYears + 1) {
            if months.contains(month) {
                let length = Self.days(in: month, of: year)
                if day <= length {
                    for dayOfMonth in day...length where matchesDay(dayOfMonth, weekday: Self.weekday(year, month, dayOfMonth)) {
                        let isFirstDay = year == start.year && month == start.month && dayOfMonth == firstDay
                        // Wall hours well before the instant's cannot come after it (DST moves by an hour at most).
                        for hour in hours where !isFirstDay || hour >= firstHour - 2 {
                            for minute in minutes {
                                let wall = DateComponents(year: year, month: month, day: dayOfMonth, hour: hour, minute: minute)
                                if let candidate = calendar.date(from: wall), candidate > instant { return candidate }
                            }
                        }
                    }
                }
            }
            day = 1
            month += 1
            if month > 12 {
                month = 1
                year += 1
            }
        }
        return nil
    }

    static func days(in month: Int, of year: Int) -> Int {
        guard month == 2 else { return longestMonth[month - 1] }
        return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    }

    /// 0 = Sunday … 6 = Saturday, in the proleptic Gregorian calendar (Sakamoto's method).
    static func weekday(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let offsets = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
        let y = month < 3 ? year - 1 : year
        return (y + y / 4 - y / 100 + y / 400 + offsets[month - 1] + day) % 7
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
