import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowStore
import Testing

/// Group commit: concurrent transitions share transactions; each is acknowledged only after its
/// transaction committed. The figure printed is for the report, never asserted (docs/performance.md).
@Suite(.timeLimit(.minutes(2))) struct GroupCommitTests {
    /// `runs` runs, each appending `steps` transitions one after another (as a driver does).
    private func appendTransitions(_ store: any DurableRunStore, runs: Int, steps: Int, concurrently: Bool, prefix: String) async throws {
        let definition = PinnedDefinition(workflowID: "w", hash: "h")
        let drive = { @Sendable (index: Int) async throws in
            let id = "\(prefix)\(index)"
            let queued = RunEvent(
                .runQueued(QueuedRun(definitionHash: "h", input: .null, activities: ["a"])), runID: id, workflow: "w", at: Timestamp(Date()))
            guard var state = RunState(queuedBy: queued) else { return }
            _ = try await store.create(state, definition: definition, events: [queued])
            for step in 0..<steps {
                let event = RunEvent(
                    step == 0 ? .runStarted(deadline: nil) : .activityStarted, runID: id, workflow: "w", activity: step == 0 ? nil : "a",
                    attempt: step == 0 ? nil : step, at: Timestamp(Date()))
                state.apply(event)
                try await store.append(id, events: [event], newState: state)
            }
        }
        if concurrently {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<runs { group.addTask { try await drive(index) } }
                try await group.waitForAll()
            }
        } else {
            for index in 0..<runs { try await drive(index) }
        }
    }

    @Test(arguments: StoreKind.durable)
    func concurrentTransitionsShareTransactions(_ kind: StoreKind) async throws {
        let stores = StoreUnderTest(kind, fixture: try StoreFixture())
        let store = try await stores.openDurable()
        let clock = ContinuousClock()
        let (runs, steps) = (50, 10)
        let sequential = try await clock.measure {
            try await appendTransitions(store, runs: runs, steps: steps, concurrently: false, prefix: "s")
        }
        let afterSequential = store.commitStatistics
        #expect(afterSequential.transactions == afterSequential.writes)
        let concurrent = try await clock.measure {
            try await appendTransitions(store, runs: runs, steps: steps, concurrently: true, prefix: "c")
        }
        let total = store.commitStatistics
        let transactions = total.transactions - afterSequential.transactions
        let writes = total.writes - afterSequential.writes
        #expect(writes == runs * (steps + 1))
        #expect(transactions < writes, "concurrent writers should share transactions")
        let micros = { (duration: Duration) in
            (Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12) / Double(writes)
        }
        print(
            """
            group commit, \(kind), \(runs) runs x \(steps + 1) transitions: sequential \
            \(String(format: "%.0f", micros(sequential))) µs/transition (1 per commit); concurrent \
            \(String(format: "%.0f", micros(concurrent))) µs/transition (\(String(format: "%.1f", Double(writes) / Double(transactions))) per commit)
            """)
        try await expectConsistent(store)
    }
}
