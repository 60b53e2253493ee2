import Foundation
import Logging
import MoonflowModel
import NIOSSL
import PostgresNIO

/// The floor of the durable benchmarks on PostgreSQL (docs/performance.md): a bare one-row
/// autocommitted `INSERT` into a table of the same database, one after another through the same
/// client library, with nothing of the engine around it.
enum PostgresCommitFloor {
    /// Median nanoseconds of one commit, over `repetitions` batches of `commits`.
    static func measure(_ location: PostgresLocation, commits: Int = 200, repetitions: Int = 5) async throws -> Double {
        let logger = Self.logger
        let connection = try await connect(location)
        let table = "moonflow_bench_floor_\(UUID().uuidString.prefix(8).lowercased())"
        do {
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE TABLE \(table) (id bigserial PRIMARY KEY, v text)"), logger: logger)
            var samples: [Double] = []
            for _ in 0..<repetitions {
                let start = ContinuousClock.now
                for i in 0..<commits {
                    try await connection.query("INSERT INTO \(unescaped: table) (v) VALUES (\("row \(i)"))", logger: logger)
                }
                samples.append(Double((ContinuousClock.now - start).nanoseconds) / Double(commits))
            }
            try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE \(table)"), logger: logger)
            try await connection.close()
            return samples.sorted()[samples.count / 2]
        } catch {
            try? await connection.close()
            throw error
        }
    }

    static let logger = Logger(label: "moonflow.bench.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A connection of its own to the bench's database, outside the store's pool (`moonflow-bench`).
    static func connect(_ location: PostgresLocation) async throws -> PostgresConnection {
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database,
            tls: location.tls == .disable ? .disable : .prefer(try NIOSSLContext(configuration: .makeClientConfiguration())))
        configuration.options.additionalStartupParameters = [("application_name", "moonflow-bench")]
        return try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
    }
}
