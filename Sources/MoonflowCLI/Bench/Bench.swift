import Foundation

/// One figure of a benchmark scenario: a median time per operation, the answer the scenario
/// checked, and the ratio to a floor measured in the same run (so figures compare across machines).
struct BenchFigure: Sendable {
    var scenario: String
    var metric: String
    /// Median nanoseconds per operation over the repetitions.
    var nanosPerOp: Double
    /// What the scenario computed and verified (a benchmark that computes the wrong answer fails).
    var checked: String
    /// The floor this figure is divided by, when it has one.
    var floor: String?
    var ratio: Double?
}

/// A scenario of `moonflow bench`. Scenarios throw `BenchError` when their checked result is wrong.
protocol BenchScenario: Sendable {
    var name: String { get }
    func run(repetitions: Int) async throws -> [BenchFigure]
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
}

enum Bench {
    /// Times `body` (which performs `operations` operations) `repetitions` times and returns the
    /// median nanoseconds per operation.
    static func medianNanos(repetitions: Int, operations: Int, _ body: () throws -> Void) rethrows -> Double {
        var samples: [Double] = []
        samples.reserveCapacity(repetitions)
        let clock = ContinuousClock()
        for _ in 0..<repetitions {
            let elapsed = try clock.measure { try body() }
            samples.append(nanos(elapsed) / Double(operations))
        }
        return median(samples)
    }

    static func medianNanos(repetitions: Int, operations: Int, _ body: () async throws -> Void) async rethrows -> Double {
        var samples: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<repetitions {
            let start = clock.now
            try await body()
            samples.append(nanos(clock.now - start) / Double(operations))
        }
        return median(samples)
    }

    static func nanos(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9
    }

    static func median(_ samples: [Double]) -> Double {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return 0 }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
