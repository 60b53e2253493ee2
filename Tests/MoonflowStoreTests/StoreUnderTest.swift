import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowPostgres
import MoonflowStore
import MoonflowTestSupport
import Synchronization
import Testing

/// The stores the conformance suite runs against: every one keeps the `RunStore` semantics.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, sqlite, postgres

    /// The stores that outlive their process.
    static let durable: [StoreKind] = [.sqlite, .postgres]

    var testDescription: String { rawValue }
}

/// A store of one kind for one test, opened again as a restarted process would open it: the
/// in-memory store is the same instance (a restart keeps nothing else of it), SQLite the same
/// file, PostgreSQL the same database (one of its own on the tests' throwaway cluster).
final class StoreUnderTest: Sendable {
    let kind: StoreKind
    let fixture: StoreFixture
    private let memory: InMemoryRunStore?
    private let database: Task<String, any Error>?
    private let deadLetterRetention: Int
    /// The PostgreSQL store opened last: opening again stops it as a clean shutdown does.
    private let opened = Mutex<PostgresRunStore?>(nil)

    init(_ kind: StoreKind, fixture: StoreFixture, deadLetterRetention: Int = EventDeadLetter.retentionLimit) {
        self.kind = kind
        self.fixture = fixture
        self.deadLetterRetention = deadLetterRetention
        memory = kind == .memory ? InMemoryRunStore(deadLetterRetention: deadLetterRetention) : nil
        database = kind == .postgres ? Task { try await PostgresCluster.shared().createDatabase() } : nil
    }

    /// Opens the store. A SQLite store of this test opened before must have been let go (its
    /// owner lock; `StoreFixture.open` waits for it). Without PostgreSQL installed, a PostgreSQL
    /// case is skipped.
    func open() async throws -> any RunStore {
        switch kind {
        case .memory: return memory!
        case .sqlite: return try fixture.open(SQLiteStoreOptions(deadLetterRetention: deadLetterRetention))
        case .postgres:
            guard PostgresCluster.installed else { try Test.cancel(Comment(rawValue: PostgresCluster.notInstalled)) }
            let options = PostgresStoreOptions(
                try PostgresLocation(url: try await database!.value, tls: .disable), deadLetterRetention: deadLetterRetention)
            try await opened.withLock { $0 }?.releaseAll()
            let store = try await PostgresRunStore.open(options, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            opened.withLock { $0 = store }
            return store
        }
    }

    /// `open()` for the durable kinds.
    func openDurable() async throws -> any DurableRunStore {
        guard let store = try await open() as? any DurableRunStore else { throw StoreTestError.notDurable(kind) }
        return store
    }
}

enum StoreTestError: Error { case notDurable(StoreKind) }

/// The stored state of every run equals the fold of its journal (docs/durability.md): what the
/// protocol reads back for any store, and for a durable one its own check of every summary table
/// (`verify()`) and, for SQLite, `PRAGMA integrity_check`.
func expectConsistent(_ store: any RunStore, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
    for state in try await store.runs(status: nil) {
        let folded = RunState.folding(try await store.journal(of: state.id))
        #expect(folded == state, "run \(state.id): the state read is not the fold of its journal", sourceLocation: sourceLocation)
        #expect(try await store.state(of: state.id) == state, sourceLocation: sourceLocation)
    }
    if let durable = store as? any DurableRunStore {
        let problems = try await durable.verify()
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))", sourceLocation: sourceLocation)
    }
    if let sqlite = store as? SQLiteRunStore {
        #expect(try await sqlite.integrityCheck() == ["ok"], sourceLocation: sourceLocation)
    }
}
