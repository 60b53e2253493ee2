import Foundation

/// Durations counted in logarithmic buckets, for percentiles in bounded memory: bucket `i` holds
/// the durations in (γ^(i-1), γ^i] microseconds with γ = 1.04, so a percentile read from it is
/// within 2 % of the true one, and at most `bucketCount` buckets exist whatever was recorded.
/// Durations of a microsecond or less share bucket 0, a year or more the last one; the smallest
/// and largest durations seen are kept exactly, and every estimate is clamped between them.
struct DurationSketch: Sendable, Hashable {
    static let growth = 1.04
    /// Bucket 0 holds up to this many nanoseconds.
    static let floorNanoseconds = 1_000.0
    /// γ^793 µs passes a year.
    static let bucketCount = 794

    /// Counts by bucket index; only buckets that were hit are present.
    private(set) var counts: [Int: Int] = [:]
    private(set) var count = 0
    private(set) var minimum: Int64 = .max
    private(set) var maximum: Int64 = .min

    mutating func record(_ duration: Duration) {
        let nanoseconds = max(0, duration.nanoseconds)
        counts[Self.bucket(of: nanoseconds), default: 0] += 1
        count += 1
        minimum = min(minimum, nanoseconds)
        maximum = max(maximum, nanoseconds)
    }

    mutating func merge(_ other: DurationSketch) {
        counts.merge(other.counts, uniquingKeysWith: +)
        count += other.count
        minimum = min(minimum, other.minimum)
        maximum = max(maximum, other.maximum)
    }

    /// The duration below or at which `fraction` (0…1) of the recorded ones lie (nearest rank),
    /// or `nil` when nothing was recorded. The first and last ranks are the exact extremes.
    func percentile(_ fraction: Double) -> Duration? {
        guard count > 0 else { return nil }
        let rank = min(count, max(1, Int((fraction * Double(count)).rounded(.up))))
        if rank == 1 { return .nanoseconds(minimum) }
        if rank == count { return .nanoseconds(maximum) }
        var seen = 0
        for index in counts.keys.sorted() {
            seen += counts[index] ?? 0
            if seen >= rank { return .nanoseconds(min(max(Self.estimate(of: index), minimum), maximum)) }
        }
        return .nanoseconds(maximum)
    }

    static func bucket(of nanoseconds: Int64) -> Int {
        let ratio = Double(nanoseconds) / floorNanoseconds
        guard ratio > 1 else { return 0 }
        let index = (log(ratio) / log(growth)).rounded(.up)
        return index >= Double(bucketCount - 1) ? bucketCount - 1 : Int(index)
    }

    /// The middle of bucket `index` on the logarithmic scale: γ^(i - ½) µs.
    static func estimate(of index: Int) -> Int64 {
        guard index > 0 else { return Int64(floorNanoseconds) }
        return Int64((floorNanoseconds * pow(growth, Double(index) - 0.5)).rounded())
    }
}
