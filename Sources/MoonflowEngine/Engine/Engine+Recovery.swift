package import MoonflowModel

/// How one run came out of `resumeAll`.
package struct RecoveredRun: Sendable {
    package var runID: RunID
    package var outcome: Result<RunStatus, any Error>
}

extension Engine {
    /// What a restart does (docs/durability.md): drives every unfinished run in this process. Runs that were
    /// running, compensating or waiting come first (creation order), then queued runs in queue
    /// order, at most `concurrency` at a time; runs still waiting for a slot (`max_workflows`) are
    /// driven as soon as admission gives them one, and stay `queued` when nothing frees a slot.
    /// Inside a drive, an attempt left running becomes an interruption and runs again at once with
    /// the same idempotency key, a backoff waits until its stored time, due timers fire, and
    /// compensation continues with the pending ones. A run that cannot be driven (its definition
    /// cannot be rebuilt) reports its error; the others go on.
    /// `progress` is told, after each run, how many were driven of how many found so far.
    package func resumeAll(concurrency: Int = 1, progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) async throws
        -> [RecoveredRun]
    {
        // On a shared store the cluster's admission decides (`Engine+SharedAdmission`); each pass
        // first admits what fits, and runs that end admit more for the next pass.
        let admission = sharedStore == nil ? try await admission() : nil
        var results: [RunID: Result<RunStatus, any Error>] = [:]
        var order: [RunID] = []
        while true {
            try await admitQueuedRuns()
            var unfinished: [RunState] = []
            for state in try await store.runs(status: RunStatus.unfinished) where results[state.id] == nil {
                if state.status == .queued, state.ending == nil, try await isStillQueued(state.id, admission) { continue }
                unfinished.append(state)
            }
            guard !unfinished.isEmpty else { break }
            let queued = unfinished.filter { $0.status == .queued }.sorted { ($0.queuePlace?.sequence ?? 0) < ($1.queuePlace?.sequence ?? 0) }
            let batch = unfinished.filter { $0.status != .queued } + queued
            order += batch.map(\.id)
            let total = order.count
            await withTaskGroup(of: RecoveredRun.self) { group in
                var active = 0
                for state in batch {
                    if active >= max(1, concurrency), let recovered = await group.next() {
                        results[recovered.runID] = recovered.outcome
                        progress?(results.count, total)
                        active -= 1
                    }
                    let runID = state.id
                    group.addTask { [self] in await recover(runID) }
                    active += 1
                }
                while let recovered = await group.next() {
                    results[recovered.runID] = recovered.outcome
                    progress?(results.count, total)
                }
            }
        }
        return order.compactMap { id in results[id].map { RecoveredRun(runID: id, outcome: $0) } }
    }

    private func isStillQueued(_ runID: RunID, _ admission: RunAdmission?) async throws -> Bool {
        if let admission { return admission.isWaiting(runID) }
        return try await sharedStore?.waitsInQueue(runID) ?? false
    }

    /// Drives one run for `resumeAll`, its error kept as the outcome.
    private func recover(_ runID: RunID) async -> RecoveredRun {
        do { return RecoveredRun(runID: runID, outcome: .success(try await drive(runID))) } catch {
            return RecoveredRun(runID: runID, outcome: .failure(error))
        }
    }

    /// Continues a `compensation_failed` run (docs/workflow-format.md): the failed compensations run again with
    /// a fresh retry budget, then the pending ones, in plan order; completed ones never re-run.
    /// With `latest` (the project's current definition of the run's workflow), the compensations
    /// run the fixed scripts: the run is re-pinned to it, recorded in `run.compensation_resumed`.
    package func resumeCompensation(_ runID: RunID, latest: PinnedWorkflow? = nil) async throws -> RunStatus {
        let status = try await leases.withLease(runID) {
            guard let state = try await store.state(of: runID) else { throw EngineError.unknownRun(runID) }
            guard state.status == .compensationFailed else { throw EngineError.notCompensationFailed(runID, state.status) }
            if let latest {
                guard latest.workflow.id == state.workflow else { throw EngineError.unknownRun(runID) }
                definitions.remember(latest)
                let driver = driver(for: state, workflow: latest.workflow, hash: latest.hash)
                return try await driver.resumeCompensation(repin: latest.definition)
            }
            let driver = driver(for: state, workflow: try await workflow(of: state), hash: state.definitionHash)
            return try await driver.resumeCompensation()
        }
        try await resumeParent(of: runID, status: status)
        return status
    }
}

extension RunStatus {
    /// States a restart drives on.
    package static let unfinished: Set<RunStatus> = [.queued, .running, .waiting, .paused, .compensating]
}
