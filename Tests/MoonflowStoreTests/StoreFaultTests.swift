import Foundation
import GRDB
import MoonflowEngine
import MoonflowModel
@testable import MoonflowStore
import Testing

/// Faults of docs/durability.md: one owner, corrupt files refused untouched, a full disk and a locked
/// database fail the operation, lose nothing acknowledged, and the store works once they clear.
@Suite(.timeLimit(.minutes(1))) struct StoreFaultTests {
    @Test func aSecondOwnerIsRefusedUntilTheFirstCloses() async throws {
        let fixture = try StoreFixture()
        var first: SQLiteRunStore? = try fixture.open()
        #expect(throws: StoreOpenError.inUse(path: fixture.storePath)) { _ = try SQLiteRunStore(path: fixture.storePath) }
        #expect(first != nil)
        first = nil
        let second = try fixture.open()
        try await expectConsistent(second)
    }

    @Test func closingGivesUpOwnershipAtOnce() async throws {
        let fixture = try StoreFixture()
        let first = try fixture.open()
        try first.close()
        // No retry: the lock was released by `close`, whatever still holds the first store.
        let second = try SQLiteRunStore(path: fixture.storePath)
        #expect(throws: StoreOpenError.inUse(path: fixture.storePath)) { _ = try SQLiteRunStore(path: fixture.storePath) }
        try await expectConsistent(second)
        withExtendedLifetime(first) {}
    }

    @Test func aFileThatIsNotADatabaseIsRefusedUntouched() throws {
        let fixture = try StoreFixture()
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try fixture.write(".moonflow/state.db", String(decoding: garbage, as: UTF8.self))
        let before = try Data(contentsOf: URL(fileURLWithPath: fixture.storePath))
        #expect {
            _ = try fixture.open()
        } throws: { error in
            guard case StoreOpenError.corrupt = error else { return false }
            return true
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.storePath)) == before)
    }

    @Test func aDatabaseWithDamagedPagesIsRefusedUntouched() async throws {
        let fixture = try StoreFixture(workflows: ["three": threeSteps])
        do {
            let store = try fixture.open()
            let engine = fixture.engine(store)
            for index in 0..<20 {
                let id = try await engine.start(try fixture.pinned("three"), input: ["i": .int(Int64(index))], runID: "r\(index)")
                _ = try await engine.drive(id)
            }
            _ = try await store.pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        }
        let url = URL(fileURLWithPath: fixture.storePath)
        var bytes = try Data(contentsOf: url)
        let pageSize = Int(bytes[16]) << 8 | Int(bytes[17])
        // Overwrite the third page (a table's b-tree page) with noise.
        for offset in (2 * pageSize)..<(3 * pageSize) { bytes[offset] = UInt8(truncatingIfNeeded: offset &* 7) }
        try bytes.write(to: url)
        #expect {
            _ = try fixture.open()
        } throws: { error in
            guard case StoreOpenError.corrupt = error else { return false }
            return true
        }
        #expect(try Data(contentsOf: url) == bytes)
    }

    @Test func aFullDiskFailsWithStorageFullAndTheStoreGoesOnOnceItClears() async throws {
        let fixture = try StoreFixture(workflows: ["three": threeSteps])
        let store = try fixture.open()
        let engine = fixture.engine(store)
        let pinned = try fixture.pinned("three")
        _ = try await engine.start(pinned, input: [:], runID: "kept")
        #expect(try await engine.drive("kept") == .completed)
        let kept = try await store.journal(of: "kept")
        let pages = try await store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count")! }
        try await store.setMaximumPageCount(pages)
        let big = Value.string(String(repeating: "x", count: 64 * 1024))
        await #expect(throws: RunStoreError.self) {
            for index in 0..<50 { _ = try await engine.start(pinned, input: ["blob": big], runID: "big\(index)") }
        }
        do {
            _ = try await engine.start(pinned, input: ["blob": big], runID: "refused")
            Issue.record("the start must fail while the disk is full")
        } catch let error as RunStoreError {
            guard case .storageFull = error else { throw error }
        }
        #expect(try await store.state(of: "refused") == nil)
        #expect(try await store.journal(of: "kept") == kept)
        try await store.setMaximumPageCount(1 << 30)
        _ = try await engine.start(pinned, input: [:], runID: "after")
        #expect(try await engine.drive("after") == .completed)
        try await expectConsistent(store)
    }

    @Test func aLockHeldByAnotherConnectionFailsWithStorageBusy() async throws {
        let fixture = try StoreFixture(workflows: ["three": threeSteps])
        let store = try fixture.open(SQLiteStoreOptions(busyTimeout: .milliseconds(100)))
        let engine = fixture.engine(store)
        let pinned = try fixture.pinned("three")
        _ = try await engine.start(pinned, input: [:], runID: "before")
        // Another program holds the write lock (a second connection, as the sqlite3 shell would).
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: fixture.storePath, configuration: configuration)
        try await other.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        do {
            _ = try await engine.start(pinned, input: [:], runID: "blocked")
            Issue.record("the start must fail while the database is locked")
        } catch let error as RunStoreError {
            guard case .storageBusy = error else { throw error }
        }
        try await other.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
        #expect(try await store.state(of: "blocked") == nil)
        #expect(try await engine.drive("before") == .completed)
        try await expectConsistent(store)
    }
}
