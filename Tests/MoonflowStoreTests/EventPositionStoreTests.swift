import Foundation
import GRDB
import MoonflowEngine
import MoonflowModel
import MoonflowStore
import Synchronization
import Testing

/// Issue 13, item 15: every journal entry gets a durable, increasing position in the store's
/// history (the event stream's ids), handed to the writer's `committed` handler in commit order.
@Suite(.timeLimit(.minutes(2))) struct EventPositionStoreTests {
    /// Drives `runs` runs of `steps` transitions each, concurrently, collecting what each
    /// `committed` handler got, in the order the handlers ran.
    static func drive(_ store: any RunStore, runs: Int, steps: Int, prefix: String = "r") async throws -> [Int64] {
        let seen = Mutex<[Int64]>([])
        let handler: CommitHandler = { offsets in seen.withLock { $0 += offsets } }
        let definition = PinnedDefinition(workflowID: "w", hash: "h")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<runs {
                group.addTask {
                    let id = "\(prefix)\(index)"
                    let queued = RunEvent(
                        .runQueued(QueuedRun(definitionHash: "h", input: .null, activities: ["a"])), runID: id, workflow: "w",
                        at: Timestamp(Date()))
                    guard var state = RunState(queuedBy: queued) else { return }
                    _ = try await store.create(state, definition: definition, events: [queued], committed: handler)
                    for step in 0..<steps {
                        let events = [
                            RunEvent(step == 0 ? .runStarted(deadline: nil) : .activityStarted, runID: id, workflow: "w",
                                activity: step == 0 ? nil : "a", attempt: step == 0 ? nil : step, at: Timestamp(Date())),
                            RunEvent(.activityLog(ScriptLogEntry(level: "info", message: "step \(step)")), runID: id, workflow: "w",
                                activity: "a", attempt: 1, at: Timestamp(Date())),
                        ]
                        for event in events { state.apply(event) }
                        try await store.append(id, events: events, newState: state, committed: handler)
                    }
                }
            }
            try await group.waitForAll()
        }
        return seen.withLock { $0 }
    }

    @Test(arguments: StoreKind.allCases)
    func positionsCountEveryEntryAcrossRunsInCommitOrder(_ kind: StoreKind) async throws {
        let stores = StoreUnderTest(kind, fixture: try StoreFixture())
        let store = try await stores.open()
        let (runs, steps) = (20, 5)
        let seen = try await Self.drive(store, runs: runs, steps: steps)
        let total = runs * (1 + 2 * steps)
        // Handlers ran in commit order: 1, 2, 3, … with no gap and nothing twice.
        #expect(seen == (1...Int64(total)).map { $0 })
        #expect(try await store.lastPosition() == Int64(total))

        // The history read back: every entry once, in position order, each with its position,
        // and each run's entries in journal order.
        var all: [RunEvent] = []
        var after: Int64 = 0
        while true {
            let page = try await store.events(after: after, runID: nil, limit: 37)
            all += page
            guard let last = page.last?.position?.offset, page.count == 37 else { break }
            after = last
        }
        #expect(all.compactMap(\.position?.offset) == (1...Int64(total)).map { $0 })
        #expect(all.allSatisfy { $0.position?.sub == 0 })
        for index in [0, 7, 19] {
            let journal = try await store.journal(of: "r\(index)")
            let ofRun = try await store.events(after: 0, runID: "r\(index)", limit: 1000)
            #expect(ofRun == journal)
            #expect(ofRun.compactMap(\.position?.offset) == ofRun.compactMap(\.position?.offset).sorted())
            #expect(all.filter { $0.runID == "r\(index)" } == journal)
        }
        #expect(try await store.events(after: Int64(total), runID: nil, limit: 10).isEmpty)
        #expect(try await store.events(after: Int64(total) - 3, runID: nil, limit: 10).count == 3)
    }

    @Test(arguments: StoreKind.durable)
    func positionsSurviveReopeningAndGoOnFromTheNewest(_ kind: StoreKind) async throws {
        let stores = StoreUnderTest(kind, fixture: try StoreFixture())
        do {
            let store = try await stores.open()
            _ = try await Self.drive(store, runs: 3, steps: 2, prefix: "a")
        }
        let reopened = try await stores.open()
        let before = try await reopened.events(after: 0, runID: nil, limit: 100)
        #expect(before.count == 15)
        let seen = try await Self.drive(reopened, runs: 2, steps: 1, prefix: "b")
        #expect(seen == (16...21).map { Int64($0) })
        let after = try await reopened.events(after: 0, runID: nil, limit: 100)
        #expect(Array(after.prefix(15)) == before)
        #expect(after.prefix(15).map(\.position) == before.map(\.position))
    }

    /// A store written before positions existed: its journal entries are numbered by time (then
    /// run and seq) when it is opened, and new entries follow them.
    @Test func aStoreFromBeforePositionsGetsThemNumberedByTime() async throws {
        let fixture = try StoreFixture()
        do {
            let store = try fixture.open()
            _ = try await Self.drive(store, runs: 4, steps: 3)
        }
        let expected = try await {
            let store = try fixture.open()
            return try await store.events(after: 0, runID: nil, limit: 1000)
        }()
        // Take the store back to the schema it had before (the column, its index, the migration).
        do {
            let queue = try DatabaseQueue(path: fixture.storePath)
            try await queue.write { db in
                try db.execute(
                    sql: """
                        DROP INDEX journal_by_position;
                        ALTER TABLE journal DROP COLUMN position;
                        DELETE FROM grdb_migrations WHERE identifier = 'journal-positions';
                        """)
            }
            try queue.close()
        }
        let store = try fixture.open()
        let migrated = try await store.events(after: 0, runID: nil, limit: 1000)
        #expect(migrated.compactMap(\.position?.offset) == (1...Int64(expected.count)).map { $0 })
        // In time order, and each run's entries in journal order.
        #expect(zip(migrated, migrated.dropFirst()).allSatisfy { $0.at <= $1.at })
        for index in 0..<4 {
            #expect(migrated.filter { $0.runID == "r\(index)" } == (try await store.journal(of: "r\(index)")))
        }
        let seen = try await Self.drive(store, runs: 1, steps: 1, prefix: "n")
        #expect(seen == [Int64(expected.count) + 1, Int64(expected.count) + 2, Int64(expected.count) + 3])
        try await expectConsistent(store)
    }

    /// A write refused inside a shared transaction gives back its positions: no gap.
    @Test(arguments: StoreKind.allCases)
    func aRefusedWriteLeavesNoGap(_ kind: StoreKind) async throws {
        let stores = StoreUnderTest(kind, fixture: try StoreFixture())
        let store = try await stores.open()
        _ = try await Self.drive(store, runs: 2, steps: 1)
        let stale = RunEvent(.activityStarted, runID: "r0", workflow: "w", activity: "a", attempt: 9, at: Timestamp(Date()))
        var state = try #require(try await store.state(of: "r0"))
        state.journalLength -= 1  // folded from an older journal: refused as a conflict
        let called = Mutex(false)
        await #expect(throws: RunStoreError.self) {
            try await store.append("r0", events: [stale], newState: state, committed: { _ in called.withLock { $0 = true } })
        }
        #expect(!called.withLock { $0 })
        let seen = try await Self.drive(store, runs: 1, steps: 0, prefix: "z")
        #expect(seen == [7])
    }
}
