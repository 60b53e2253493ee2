import Foundation
import GRDB
import MoonflowModel

/// The floor of the durable benchmarks (docs/performance.md): a bare one-row commit on a fresh file with the
/// store's journal mode (WAL) and synchronous level, through the same library, with nothing of
/// the engine around it.
enum SQLiteCommitFloor {
    /// Median nanoseconds of one `BEGIN IMMEDIATE; INSERT; COMMIT`, over `repetitions` batches of `commits`.
    static func measure(synchronous: EngineConfig.Synchronous, commits: Int = 200, repetitions: Int = 5) throws -> Double {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-floor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pool = try DatabasePool(path: directory.appendingPathComponent("floor.db").path)
        // After the pool is open: GRDB sets NORMAL on its writer when it turns WAL on.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous == .full ? "FULL" : "NORMAL")")
        }
        try pool.write { db in try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)") }
        var samples: [Double] = []
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            for i in 0..<commits {
                try pool.writeWithoutTransaction { db in
                    try db.inTransaction(.immediate) {
                        try db.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: ["row \(i)"])
                        return .commit
                    }
                }
            }
            let elapsed = ContinuousClock.now - start
            samples.append(Double(elapsed.nanoseconds) / Double(commits))
        }
        return samples.sorted()[samples.count / 2]
    }
}
