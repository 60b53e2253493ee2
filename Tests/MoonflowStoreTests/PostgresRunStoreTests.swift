import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
@testable import MoonflowPostgres
import MoonflowTestSupport
import Synchronization
import Testing

/// What only the PostgreSQL store has: its URL, migrations at start (refused when the database is
/// newer than the binary), its session settings, and several stores — several engine processes —
/// writing one database with positions still in commit order (docs/scale-out.md).
@Suite(.timeLimit(.minutes(2)), .enabled(if: PostgresCluster.installed, Comment(rawValue: PostgresCluster.notInstalled)))
struct PostgresRunStoreTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func open(_ url: String) async throws -> PostgresRunStore {
        try await PostgresRunStore.open(PostgresStoreOptions(try PostgresLocation(url: url, tls: .disable)), logger: logger)
    }

    @Test func urlsAreReadWithTheirPartsAndBadOnesNamed() throws {
        let options = try PostgresLocation(url: "postgres://ada:s%40cret@db.example:6543/flows", password: "ignored", poolSize: 4)
        #expect(options.host == "db.example")
        #expect(options.port == 6543)
        #expect(options.user == "ada")
        #expect(options.password == "s@cret")
        #expect(options.database == "flows")
        #expect(options.poolSize == 4)
        #expect(options.displayURL == "postgres://ada@db.example:6543/flows")
        let fromEnvironment = try PostgresLocation(url: "postgresql://ada@localhost/flows", password: "from-env")
        #expect(fromEnvironment.password == "from-env")
        #expect(fromEnvironment.port == 5432)
        for (url, problem) in [
            ("mysql://a@b/c", "it is not a postgres://"), ("postgres://a@b", "the database is missing"),
            ("postgres://b/c", "the user is missing"), ("postgres://a:pw@b/c?sslmode=require", "parameters after '?'"),
        ] {
            #expect {
                _ = try PostgresLocation(url: url)
            } throws: { error in
                let text = "\(error)"
                return text.contains(problem) && !text.contains("pw@")
            }
        }
        #expect(throws: PostgresURLError.self) { _ = try PostgresLocation(url: "postgres://a@b/c", poolSize: 1) }
    }

    @Test func aServerThatIsNotThereIsNamedWithoutThePassword() async throws {
        let port = try freeLoopbackPort()
        do {
            _ = try await Self.open("postgres://moonflow:secret@127.0.0.1:\(port)/nothing")
            Issue.record("opening must fail")
        } catch let error as PostgresStoreError {
            guard case .cannotConnect(let url, _) = error else { throw error }
            #expect(url == "postgres://moonflow@127.0.0.1:\(port)/nothing")
            #expect(!"\(error)".contains("secret"))
        }
    }

    @Test func migrationsRunOnceAndADatabaseNewerThanTheBinaryIsRefused() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await cluster.createDatabase()
        let name = String(url.split(separator: "/").last!)
        // Two processes starting together: one migrates, the other waits and finds it done.
        async let first = Self.open(url)
        async let second = Self.open(url)
        _ = try await (first, second)
        #expect(try await cluster.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM moonflow_migrations", database: name)
            .trimmingCharacters(in: .whitespacesAndNewlines) == (1...PostgresSchema.latest).map(String.init).joined(separator: ","))
        try await cluster.psql("INSERT INTO moonflow_migrations (version) VALUES (\(PostgresSchema.latest + 1))", database: name)
        await #expect(throws: PostgresStoreError.newerSchema(
            url: "postgres://moonflow@127.0.0.1:\(cluster.port)/\(name)", database: PostgresSchema.latest + 1, binary: PostgresSchema.latest)) {
            _ = try await Self.open(url)
        }
    }

    @Test func everySessionEndsATransactionLeftOpen() async throws {
        let store = try await Self.open(try await PostgresCluster.shared().createDatabase())
        let setting = try await store.rows("SHOW idle_in_transaction_session_timeout") { try $0.decode(String.self) }
        #expect(setting == ["1min"])
        let name = try await store.rows("SHOW application_name") { try $0.decode(String.self) }
        #expect(name == ["moonflow"])
    }

    /// Two stores on one database, as two engine processes: their writes interleave, positions
    /// stay 1, 2, 3, … in commit order with nothing twice, and a stale append is refused whichever
    /// store wrote last.
    @Test func twoStoresOnOneDatabaseKeepOneHistory() async throws {
        let url = try await PostgresCluster.shared().createDatabase()
        let (a, b) = (try await Self.open(url), try await Self.open(url))
        async let fromA = EventPositionStoreTests.drive(a, runs: 10, steps: 4, prefix: "a")
        async let fromB = EventPositionStoreTests.drive(b, runs: 10, steps: 4, prefix: "b")
        let (seenA, seenB) = try await (fromA, fromB)
        let total = 20 * (1 + 2 * 4)
        #expect((seenA + seenB).sorted() == (1...Int64(total)).map { $0 })
        #expect(seenA == seenA.sorted())
        #expect(seenB == seenB.sorted())
        let history = try await b.events(after: 0, runID: nil, limit: 1000)
        #expect(history.compactMap(\.position?.offset) == (1...Int64(total)).map { $0 })
        // b3 is b's: a cannot write it, and b's own stale append is refused as a conflict.
        var state = try #require(try await a.state(of: "b3"))
        let event = RunEvent(.activityStarted, runID: "b3", workflow: "w", activity: "a", attempt: 9, at: Timestamp(Date()))
        state.apply(event)
        await #expect(throws: RunStoreError.ownedElsewhere(runID: "b3", owner: b.processID)) {
            try await a.append("b3", events: [event], newState: state)
        }
        try await b.append("b3", events: [event], newState: state)
        await #expect(throws: RunStoreError.conflict(runID: "b3", expectedLength: state.journalLength - 1, actualLength: state.journalLength)) {
            try await b.append("b3", events: [event], newState: state)
        }
        try await expectConsistent(a)
    }

    @Test func verifyNamesARowThatIsNotTheFoldOfItsJournal() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await cluster.createDatabase()
        let store = try await Self.open(url)
        _ = try await EventPositionStoreTests.drive(store, runs: 2, steps: 2)
        #expect(try await store.verify().isEmpty)
        try await cluster.psql("UPDATE runs SET status = 'failed' WHERE id = 'r1'", database: String(url.split(separator: "/").last!))
        #expect(try await store.verify() == ["r1: status stored failed, folded running"])
    }
}
