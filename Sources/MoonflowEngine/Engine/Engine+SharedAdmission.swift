import MoonflowModel

/// Run admission on a store several processes share (docs/scale-out.md): `max_workflows`, the
/// workflow's and the engine's, counted in the database (`SharedRunStore.takeSlot`) instead of
/// the per-process `RunAdmission`. A run that ends or waits anywhere frees its slot by its stored
/// status; the process wakes the others (`NOTIFY`), and each admits the queued runs it may drive.
extension Engine {
    var sharedStore: (any SharedRunStore)? { store as? any SharedRunStore }

    /// `RunAdmission.submit` against the database's count. A queued run's sequence is its
    /// enqueue instant in nanoseconds: one order across processes without a round trip.
    func submitShared(
        _ shared: any SharedRunStore, runID: RunID, workflow: String, limits: ConcurrencyLimits?, priority: Int, now: Timestamp
    ) async throws -> RunAdmissionMachine.Decision {
        let engineLimits = admissionState.limits
        guard limits?.maxWorkflows != nil || engineLimits?.maxWorkflows != nil else { return .start }
        switch try await shared.takeSlot(
            runID: runID, workflow: workflow, workflowMax: limits?.maxWorkflows, engineMax: engineLimits?.maxWorkflows)
        {
        case .taken: return .start
        case .full(let own, let all):
            return RunAdmissionMachine.queueing(
                runID: runID, workflow: workflow, limits: limits, engineLimits: engineLimits, priority: priority, now: now,
                sequence: UInt64(max(0, now.nanosecondsSinceEpoch)), ownQueued: own, allQueued: all)
        }
    }

    /// The run ended or waits (or was not created): its slot is free for the cluster's queued runs.
    func releaseShared(_ shared: any SharedRunStore, runID: RunID) async throws {
        try await admitQueuedRuns(of: try await shared.freeSlot(of: runID))
    }

    /// Admits the queued runs of the cluster that fit now and that this process may drive, and
    /// hands them to the `onAdmission` handler. Called when a slot frees here, when another
    /// process announces work, and on the claim loop's poll. Nothing on a store of one process.
    package func admitQueuedRuns() async throws {
        guard let shared = sharedStore else { return }
        try await admitQueuedRuns(of: try await shared.queuedWorkflows())
    }

    /// `admitQueuedRuns` when the workflows with queued runs are known (`freeSlot` answered them).
    private func admitQueuedRuns(of workflows: [String]) async throws {
        guard let shared = sharedStore, !workflows.isEmpty else { return }
        var limits: [String: ConcurrencyLimits] = [:]
        for workflow in workflows {
            limits[workflow] = await catalog?.workflow(id: workflow)?.workflow.concurrency
        }
        dispatch(try await shared.admitQueued(workflowLimits: limits, engineLimits: admissionState.limits))
    }
}
