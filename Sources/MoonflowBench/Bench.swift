import Foundation
package import MoonflowModel

/// One figure of a benchmark scenario: a median time per operation, the answer the scenario
/// checked, and the ratio to a floor measured in the same run (so figures compare across machines).
package struct BenchFigure: Sendable {
    var scenario: String
    var metric: String
    /// Median nanoseconds per operation over the repetitions.
    var nanosPerOp: Double
    /// What one operation is: `step`, `run`, `file`, `call`, `validation`.
    var unit: String = "op"
    /// What the scenario computed and verified (a benchmark that computes the wrong answer fails).
    var checked: String
    /// The floor this figure is divided by, when it has one, and its median nanoseconds.
    var floor: BenchFloor?
    /// Runs per second, for figures that measure whole runs.
    var runsPerSecond: Double?
    /// The docs/performance.md target this figure is held to, when it has one.
    var target: BenchTarget?

    var ratio: Double? { floor.map { nanosPerOp / $0.nanos } }
}

/// A floor measured in the same run: the cheapest thing the machine can do for the same work.
struct BenchFloor: Sendable {
    var name: String
    var nanos: Double
}

/// A target of docs/performance.md and whether the figure meets it.
struct BenchTarget: Sendable {
    var text: String
    var met: Bool

    /// Met when the figure is at most `limit`.
    static func atMost(_ value: Double, _ limit: Double, _ text: String) -> BenchTarget {
        BenchTarget(text: text, met: value <= limit)
    }
}

/// Where the engine scenarios keep their runs.
package enum BenchStore: Sendable, Hashable, CustomStringConvertible {
    case memory
    /// A fresh SQLite store file per engine, WAL, with this synchronous level.
    case sqlite(EngineConfig.Synchronous)
    /// A PostgreSQL database (`--store postgres://…`), shared by every engine of the run.
    case postgres(PostgresLocation)

    package var description: String {
        switch self {
        case .memory: "memory"
        case .sqlite(let synchronous): "sqlite (synchronous=\(synchronous.rawValue))"
        case .postgres(let location): "postgres (\(location.displayURL))"
        }
    }
}

/// What every scenario of one `moonflow bench` invocation shares.
package struct BenchContext: Sendable {
    var repetitions: Int
    var store: BenchStore
    /// A bare `lua_pcall` of a tiny function, measured once at the start of the run.
    var luaFloor: BenchFloor
    /// A bare one-row SQLite commit with the store's journal mode and synchronous level, with `--store sqlite`.
    var commitFloor: BenchFloor?
}

/// A scenario of `moonflow bench`. Scenarios throw `BenchError` when their checked result is wrong.
package protocol BenchScenario: Sendable {
    var name: String { get }
    func run(_ context: BenchContext) async throws -> [BenchFigure]
}

package struct BenchError: Error, CustomStringConvertible {
    package var description: String
}

package enum Bench {
    /// Throws when a scenario computed something else than it should: a fast wrong answer is a failure.
    static func check(_ actual: Value?, equals expected: Value, _ what: String) throws {
        guard actual == expected else {
            throw BenchError(description: "\(what): expected \(expected.jsonString()), got \(actual?.jsonString() ?? "nothing")")
        }
    }

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
