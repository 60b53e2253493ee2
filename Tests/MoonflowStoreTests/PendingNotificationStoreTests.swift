import Foundation
import MoonflowEngine
import MoonflowModel
import Testing

/// `RunStore.runsWithPendingNotifications`: the runs whose outbox holds a notification neither
/// delivered nor dead-lettered, in creation order — the same on every store, and after a reopen.
@Suite(.timeLimit(.minutes(2))) struct PendingNotificationStoreTests {
    /// Creates run `id` and appends `payloads`, each as one transition.
    static func run(_ id: String, _ payloads: [RunEvent.Payload], in store: any RunStore) async throws {
        let queued = RunEvent(
            .runQueued(QueuedRun(definitionHash: "h", input: .null, activities: ["a"])), runID: id, workflow: "w", at: Timestamp(Date()))
        var state = try #require(RunState(queuedBy: queued))
        _ = try await store.create(state, definition: PinnedDefinition(workflowID: "w", hash: "h"), events: [queued])
        for payload in payloads {
            let event = RunEvent(payload, runID: id, workflow: "w", at: Timestamp(Date()))
            state.apply(event)
            try await store.append(id, events: [event], newState: state)
        }
    }

    static func queued(_ id: String) -> RunEvent.Payload {
        .notificationQueued(QueuedNotification(id: id, channel: "ops", message: ["event": "run.failed"]))
    }

    @Test(arguments: StoreKind.allCases)
    func onlyRunsWithAnUndeliveredNotificationInCreationOrder(_ kind: StoreKind) async throws {
        let stores = StoreUnderTest(kind, fixture: try StoreFixture())
        try await Self.fill(try await stores.open())
        guard kind != .memory else { return }
        // Reopened as a restarted process opens it.
        #expect(try await stores.open().runsWithPendingNotifications().map(\.id) == ["pending", "one-of-two"])
    }

    private static func fill(_ store: any RunStore) async throws {
        try await Self.run("none", [.runStarted(deadline: nil)], in: store)
        try await Self.run("pending", [Self.queued("pending:2")], in: store)
        try await Self.run("delivered", [Self.queued("delivered:2"), .notificationDelivered(id: "delivered:2", channel: "ops", attempts: 1)], in: store)
        try await Self.run(
            "dead",
            [
                Self.queued("dead:2"),
                .notificationDeadLettered(id: "dead:2", channel: "ops", attempts: 5, error: ActivityFailure(.activityError, "gone")),
            ], in: store)
        try await Self.run(
            "one-of-two", [Self.queued("one:2"), Self.queued("one:3"), .notificationDelivered(id: "one:2", channel: "ops", attempts: 1)],
            in: store)
        #expect(try await store.runsWithPendingNotifications().map(\.id) == ["pending", "one-of-two"])
        #expect(try await store.runsWithPendingNotifications().first?.outbox.isEmpty == false)
    }
}
