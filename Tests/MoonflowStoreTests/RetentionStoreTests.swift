import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import Testing

/// Retention (docs/durability.md) on the durable stores: finished runs last written before the
/// cutoff go, in batches, with all their rows; unfinished, recent and `compensation_failed` runs
/// stay, as does a finished child of an unfinished parent and the newest run.
struct RetentionStoreTests {
    /// A run of workflow `w` written at `at` (seconds since 1970), queued and then `ending`.
    static func write(_ store: any RunStore, _ id: String, at seconds: Int64, ending: [RunEvent.Payload], parent: String? = nil) async throws {
        let at = Timestamp(nanosecondsSinceEpoch: seconds * 1_000_000_000)
        let queued = RunEvent(
            .runQueued(QueuedRun(definitionHash: "h", input: .null, activities: ["a"], parent: parent.map { ParentLink(runID: $0, activity: "a") })),
            runID: id, workflow: "w", at: at)
        guard var state = RunState(queuedBy: queued) else { return }
        _ = try await store.create(state, definition: PinnedDefinition(workflowID: "w", hash: "h"), events: [queued], committed: nil)
        let events = ([.runStarted(deadline: nil)] + ending).map { RunEvent($0, runID: id, workflow: "w", at: at) }
        for event in events { state.apply(event) }
        try await store.append(id, events: events, newState: state, committed: nil)
    }

    @Test(arguments: StoreKind.durable)
    func finishedRunsPastTheCutoffAreDeletedInBatches(kind: StoreKind) async throws {
        let fixture = try StoreFixture()
        let subject = StoreUnderTest(kind, fixture: fixture)
        let store = try await subject.openDurable()
        let failure = ActivityFailure(.activityError, "no")
        for index in 0..<5 { try await Self.write(store, "old\(index)", at: 1_000, ending: [.runCompleted(output: 1)]) }
        try await Self.write(store, "oldFailed", at: 1_000, ending: [.runFailing(cause: .failed, error: failure, activity: nil), .runFailed])
        try await Self.write(store, "oldRunning", at: 1_000, ending: [])
        try await Self.write(store, "parent", at: 1_000, ending: [])
        try await Self.write(store, "child", at: 1_000, ending: [.runCompleted(output: 1)], parent: "parent")
        try await Self.write(
            store, "needsOperator", at: 1_000,
            ending: [.runFailing(cause: .failed, error: failure, activity: nil), .runCompensating(plan: [], deadline: nil), .runCompensationFailed])
        try await Self.write(store, "recent", at: 5_000, ending: [.runCompleted(output: 1)])
        try await Self.write(store, "newest", at: 1_000, ending: [.runCompleted(output: 1)])

        let cutoff = Timestamp(nanosecondsSinceEpoch: 2_000 * 1_000_000_000)
        #expect(try await store.deleteFinishedRuns(before: cutoff, limit: 4) == 4)
        #expect(try await store.deleteFinishedRuns(before: cutoff, limit: 4) == 2)
        #expect(try await store.deleteFinishedRuns(before: cutoff, limit: 4) == 0)
        let left = try await store.runs(status: nil).map(\.id).sorted()
        #expect(left == ["child", "needsOperator", "newest", "oldRunning", "parent", "recent"])
        #expect(try await store.journal(of: "old0").isEmpty)
        try await expectConsistent(store)
    }

    @Test func theServiceSweepsEveryBatchByTheEngineClock() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        for index in 0..<7 { try await Self.write(store, "r\(index)", at: 1_000, ending: [.runCompleted(output: 1)]) }
        let service = RetentionService(
            store: store, clock: ManualClock(now: Timestamp(nanosecondsSinceEpoch: 1_000 * 1_000_000_000) + .seconds(3600)),
            retention: .seconds(1800), logger: .init(label: "test"))
        #expect(try await service.sweep() == 6)
        #expect(try await store.runs(status: nil).map(\.id) == ["r6"])
    }
}
