import Foundation
import GRDB
import MoonflowEngine
import MoonflowModel
import Testing

@testable import MoonflowStore

/// `synchronous` is what the store was opened with on the connection that writes: GRDB's pool
/// sets `NORMAL` on its writer after the connection is prepared, which silently turned the
/// default `FULL` (every acknowledged commit synced to disk, docs/durability.md) into `NORMAL`
/// (synced only at checkpoints: a power loss could lose acknowledged transitions).
struct SynchronousLevelTests {
    @Test(arguments: [(EngineConfig.Synchronous.full, 2), (.normal, 1)])
    func theWriterUsesTheConfiguredLevel(_ level: EngineConfig.Synchronous, _ expected: Int) async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open(SQLiteStoreOptions(synchronous: level))
        let writer = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(writer == expected)
    }
}
