import Foundation
import MoonflowEngine
import Testing

@Suite("Cron schedules: next fire time in a time zone")
struct CronScheduleTests {
    static func date(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }

    @Test(arguments: [
        ("*/15 * * * *", "2025-01-01T10:07:00Z", "2025-01-01T10:15:00Z"),
        ("0 9 * * MON-FRI", "2025-01-03T09:00:00Z", "2025-01-06T09:00:00Z"),  // Friday → Monday
        ("30 2 1 jan,jul *", "2025-01-01T03:00:00Z", "2025-07-01T02:30:00Z"),
        ("0 0 13 * 5", "2025-06-01T00:00:00Z", "2025-06-06T00:00:00Z"),  // day-of-month OR day-of-week
        ("5/20 * * * *", "2025-01-01T10:26:00Z", "2025-01-01T10:45:00Z"),
        ("0 12 * * 7", "2025-01-01T00:00:00Z", "2025-01-05T12:00:00Z"),  // 7 is Sunday
    ])
    func nextInUTC(_ cron: String, _ after: String, _ expected: String) throws {
        #expect(try CronSchedule(cron).next(after: Self.date(after)) == Self.date(expected))
    }

    @Test func springForwardFiresOnceAfterTheGap() throws {
        // New York skips 02:00–03:00 on 2025-03-09: 02:30 local fires at 03:00 EDT (07:00Z).
        let schedule = try CronSchedule("30 2 * * *", timeZone: "America/New_York")
        let fire = try #require(schedule.next(after: Self.date("2025-03-09T05:00:00Z")))
        #expect(fire == Self.date("2025-03-09T07:00:00Z") || fire == Self.date("2025-03-09T07:30:00Z"))
        #expect(schedule.next(after: fire) == Self.date("2025-03-10T06:30:00Z"))
    }

    @Test func fallBackFiresOnce() throws {
        // 01:30 happens twice in New York on 2025-11-02; the schedule fires for the first only.
        let schedule = try CronSchedule("30 1 * * *", timeZone: "America/New_York")
        let first = try #require(schedule.next(after: Self.date("2025-11-02T04:00:00Z")))
        #expect(first == Self.date("2025-11-02T05:30:00Z"))
        #expect(schedule.next(after: first) == Self.date("2025-11-03T06:30:00Z"))
    }

    @Test func impossibleDatesAreRefused() throws {
        // Security issue 12, item 17: a schedule that can never fire is an error, not a scan.
        for cron in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 feb *", "0 0 31 2-2 */2"] {
            #expect(throws: CronSchedule.ParseError.self, "\(cron)") { try CronSchedule(cron) }
        }
        #expect(try CronSchedule("0 0 29 2 *").next(after: Self.date("2025-03-01T00:00:00Z")) == Self.date("2028-02-29T00:00:00Z"))
        #expect(try CronSchedule("0 0 31 2,3 *").next(after: Self.date("2025-01-01T00:00:00Z")) == Self.date("2025-03-31T00:00:00Z"))
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule("61 * * * *") }
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule("* * * *") }
    }

    @Test func timeZonesAreIANANamesNotPaths() throws {
        for zone in ["../../etc/passwd", "/usr/share/zoneinfo/UTC", "../zoneinfo/UTC", "Europe/../UTC", "Nowhere/Special", ""] {
            #expect(throws: CronSchedule.ParseError.self, "\(zone)") { try CronSchedule("0 0 * * *", timeZone: zone) }
        }
        for zone in ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5"] {
            #expect(throws: Never.self, "\(zone)") { try CronSchedule("0 0 * * *", timeZone: zone) }
        }
    }

    @Test func rareSchedulesAreFoundYearsAhead() throws {
        // A rare schedule (29 February, a Sunday when both day fields are restricted the `*/7`
        // way) is found by skipping excluded months and computing weekdays, not by scanning day
        // by day: the old five-year day-by-day scan gave up before 2032. (How fast it is, is for
        // `moonflow bench`, not a timed test.)
        let leap = try CronSchedule("0 0 29 2 *")
        let rare = try CronSchedule("0 0 29 2 */7")
        #expect(leap.next(after: Self.date("2025-03-01T00:00:00Z")) == Self.date("2028-02-29T00:00:00Z"))
        #expect(rare.next(after: Self.date("2025-03-01T00:00:00Z")) == Self.date("2032-02-29T00:00:00Z"))
    }
}
