package import Foundation

/// A wall-clock instant, nanoseconds since the Unix epoch. Deadlines, backoffs and timers are stored
/// as these absolute times so they survive a restart (docs/resilience.md, docs/durability.md).
package struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var nanosecondsSinceEpoch: Int64

    package init(nanosecondsSinceEpoch: Int64) { self.nanosecondsSinceEpoch = nanosecondsSinceEpoch }

    package init(_ date: Date) {
        self.nanosecondsSinceEpoch = Int64((date.timeIntervalSince1970 * 1e9).rounded())
    }

    package var date: Date { Date(timeIntervalSince1970: Double(nanosecondsSinceEpoch) / 1e9) }

    package static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanosecondsSinceEpoch < b.nanosecondsSinceEpoch }

    package static func + (t: Timestamp, d: Duration) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: t.nanosecondsSinceEpoch &+ d.nanoseconds)
    }

    package static func - (t: Timestamp, d: Duration) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: t.nanosecondsSinceEpoch &- d.nanoseconds)
    }

    package static func - (a: Timestamp, b: Timestamp) -> Duration {
        .nanoseconds(a.nanosecondsSinceEpoch &- b.nanosecondsSinceEpoch)
    }

    /// ISO 8601 UTC with milliseconds, e.g. `2026-11-21T10:15:30.123Z`.
    package var iso8601: String {
        let millis = Int64((Double(nanosecondsSinceEpoch) / 1e6).rounded(.down))
        var seconds = millis / 1000
        var ms = millis % 1000
        if ms < 0 { ms += 1000; seconds -= 1 }
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }

    package var description: String { iso8601 }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating for absurdly long durations).
    package var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return product &+ attoseconds / 1_000_000_000
    }

    /// Milliseconds as a floating-point number, for reports.
    package var milliseconds: Double { Double(nanoseconds) / 1e6 }
}
