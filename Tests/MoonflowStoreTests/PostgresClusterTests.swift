import Foundation
import MoonflowTestSupport
import Testing

/// The throwaway cluster the PostgreSQL tests share: started by the tests themselves on a free
/// loopback port in a temporary folder, never a server the machine already runs; each test gets a
/// database of its own.
@Suite(.timeLimit(.minutes(1))) struct PostgresClusterTests {
    @Test(.enabled(if: PostgresCluster.installed, Comment(rawValue: PostgresCluster.notInstalled)))
    func theTestClusterListensOnLoopbackOnlyAndGivesEachTestItsOwnDatabase() async throws {
        let cluster = try await PostgresCluster.shared()
        #expect(try await cluster.psql("SHOW listen_addresses").trimmingCharacters(in: .whitespacesAndNewlines) == "127.0.0.1")
        #expect(try await cluster.psql("SHOW port").trimmingCharacters(in: .whitespacesAndNewlines) == "\(cluster.port)")
        let directory = try await cluster.psql("SHOW data_directory").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(directory.hasPrefix(FileManager.default.temporaryDirectory.path))
        let first = try await cluster.createDatabase()
        let second = try await cluster.createDatabase()
        #expect(first != second)
        let name = try #require(first.split(separator: "/").last.map(String.init))
        try await cluster.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)", database: name)
        #expect(try await cluster.psql("SELECT count(*) FROM t", database: name).trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        // The password is checked (scram-sha-256), not trusted.
        await #expect(throws: (any Error).self) {
            try await Shell.run(
                cluster.binaries.appendingPathComponent("psql").path,
                ["-X", "-h", cluster.host, "-p", "\(cluster.port)", "-U", cluster.user, "-d", name, "-c", "SELECT 1"],
                environment: ["PGPASSWORD": "wrong"])
        }
    }
}
