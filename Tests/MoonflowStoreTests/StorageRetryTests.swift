import Foundation
import GRDB
import MoonflowEngine
import MoonflowModel
@testable import MoonflowStore
import Testing

/// A disk that fills up while runs are being driven (docs/durability.md): their writes wait it out with a
/// backoff, and once it has room again the runs finish, in this process, without a restart.
@Suite(.timeLimit(.minutes(1))) struct StorageRetryTests {
    /// Each activity writes a 24 KiB output: a completion needs new pages, which a full disk refuses.
    static let bulky = """
        workflow: bulky
        activities:
          - {name: a, run: "return {blob = input.blob, n = 1}"}
          - {name: b, run: "return {blob = input.blob, n = steps.a.output.n + 1}"}
        """

    static let blob = Value.string(String(repeating: "x", count: 24 * 1024))

    /// A store whose file may not grow beyond what it holds now.
    static func fill(_ store: SQLiteRunStore) async throws {
        let pages = try await store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count")! }
        try await store.setMaximumPageCount(pages)
    }

    @Test func runsCaughtByAFullDiskFinishOnceItHasRoomAgain() async throws {
        let fixture = try StoreFixture(workflows: ["bulky": Self.bulky])
        let store = try fixture.open()
        let engine = fixture.engine(store)
        engine.storageRetry.policy = StorageRetryPolicy(initialDelay: .milliseconds(10), maximumDelay: .milliseconds(50), maximumRetries: 1000)
        let ids = ["f1", "f2", "f3"]
        for id in ids { _ = try await engine.start(try fixture.pinned("bulky"), input: ["blob": Self.blob], runID: id) }
        try await Self.fill(store)
        let drives = Task {
            try await withThrowingTaskGroup(of: RunStatus.self) { group in
                for id in ids { group.addTask { try await engine.drive(id) } }
                return try await group.reduce(into: [RunStatus]()) { $0.append($1) }
            }
        }
        // The drives hit the full disk and wait (give up after 10 s: a drive that fails instead never retries).
        for _ in 0..<1000 where engine.storageRetry.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
        try #require(engine.storageRetry.count >= 3)
        let during = try await store.runs(status: nil)
        #expect(during.allSatisfy { $0.status != .completed })
        try await store.setMaximumPageCount(1 << 30)
        #expect(try await drives.value == [.completed, .completed, .completed])
        for id in ids {
            let journal = try await store.journal(of: id)
            // Nothing ran twice: the refused transitions were written again, not redone.
            #expect(journal.filter { $0.type == .activityStarted }.compactMap(\.activity) == ["a", "b"])
            #expect(!journal.contains { $0.type == .activityInterrupted })
            #expect(try await store.state(of: id)?.activities["b"]?.output?["n"] == 2)
        }
        try await expectConsistent(store)
    }

    @Test func aDiskThatStaysFullEndsTheDriveAfterItsRetries() async throws {
        let fixture = try StoreFixture(workflows: ["bulky": Self.bulky])
        let store = try fixture.open()
        let engine = fixture.engine(store)
        engine.storageRetry.policy = StorageRetryPolicy(initialDelay: .milliseconds(5), maximumDelay: .milliseconds(20), maximumRetries: 3)
        _ = try await engine.start(try fixture.pinned("bulky"), input: ["blob": Self.blob], runID: "stuck")
        try await Self.fill(store)
        do {
            _ = try await engine.drive("stuck")
            Issue.record("the drive must fail once its retries are spent")
        } catch let error as RunStoreError {
            guard case .storageFull = error else { throw error }
        }
        #expect(engine.storageRetry.count == 3)
        #expect(try await store.state(of: "stuck")?.status.isTerminal == false)
        // The run is as its last stored transition: the next drive (a restart's) finishes it.
        try await store.setMaximumPageCount(1 << 30)
        #expect(try await engine.drive("stuck") == .completed)
        try await expectConsistent(store)
    }

    @Test func aTaskCompletionRefusedByAFullDiskFailsAtOnceAndStoresNothing() async throws {
        let fixture = try StoreFixture(workflows: ["approval": approval])
        let store = try fixture.open()
        let engine = fixture.engine(store)
        engine.storageRetry.policy = StorageRetryPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(1), maximumRetries: 1000)
        _ = try await engine.start(try fixture.pinned("approval"), input: [:], runID: "t1")
        #expect(try await engine.drive("t1") == .waiting)
        let task = try #require(try await store.tasks(status: .open).first)
        let journal = try await store.journal(of: "t1")
        try await Self.fill(store)
        // The caller waits on this transition: it is told at once, not after the retries.
        let started = ContinuousClock.now
        do {
            _ = try await engine.completeTask(task.id, data: ["ok": true, "note": Self.blob], user: TaskUser("alice"))
            Issue.record("the completion must fail while the disk is full")
        } catch let error as RunStoreError {
            guard case .storageFull = error else { throw error }
        }
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(engine.storageRetry.count == 0)
        #expect(try await store.journal(of: "t1") == journal)
        try await store.setMaximumPageCount(1 << 30)
        #expect(try await engine.completeTask(task.id, data: ["ok": true, "note": Self.blob], user: TaskUser("alice")) == .completed)
        try await expectConsistent(store)
    }
}
