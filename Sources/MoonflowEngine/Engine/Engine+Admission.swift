package import MoonflowModel
import Synchronization

/// The engine's run admission (docs/resilience.md), built from the store on first use: runs that hold a
/// slot (running, compensating, or admitted and not started yet) and the queued runs with
/// their stored places. Runs it admits later are handed to the `onAdmission` handler (the server's
/// dispatcher), or stay `queued` in the store until something drives them.
final class AdmissionState: Sendable {
    let limits: ConcurrencyLimits?
    let ready = Mutex<Task<RunAdmission, any Error>?>(nil)
    let handler = Mutex<(@Sendable (RunID) -> Void)?>(nil)
    /// Set once `ready` has produced it.
    let built = Mutex<RunAdmission?>(nil)

    init(limits: ConcurrencyLimits?) { self.limits = limits }
}

extension Engine {
    /// Runs admitted from the queue (a slot freed, limits raised) are given to `handler` to be
    /// driven; it must not block.
    package func onAdmission(_ handler: @escaping @Sendable (RunID) -> Void) {
        admissionState.handler.withLock { $0 = handler }
    }

    /// Who holds a slot and who waits, for monitoring.
    package func runQueue() async throws -> RunQueueSnapshot {
        if let shared = sharedStore { return try await shared.admissionSnapshot() }
        return try await admission().snapshot()
    }

    /// A workflow's `concurrency` changed (a reload): queued runs that now fit start. Before the
    /// first admission there is nothing to update: the rebuild reads current definitions.
    package func updateConcurrency(workflow: String, limits: ConcurrencyLimits?) {
        if sharedStore != nil {
            Task { [self] in
                do { try await admitQueuedRuns() } catch { logger.warning("admitting queued runs failed", metadata: ["error": .string("\(error)")]) }
            }
            return
        }
        guard let admission = admissionState.built.withLock({ $0 }) else { return }
        dispatch(admission.update(workflow: workflow, limits: limits))
    }

    func admission() async throws -> RunAdmission {
        let task = admissionState.ready.withLock { ready in
            if let ready { return ready }
            let task = Task { try await rebuildAdmission() }
            ready = task
            return task
        }
        do {
            return try await task.value
        } catch {
            // A store error: the next call tries again.
            admissionState.ready.withLock { if $0 == task { $0 = nil } }
            throw error
        }
    }

    /// The run ended (or left the queue): its slot goes to the next queued run.
    func releaseSlot(of runID: RunID) async throws {
        if let shared = sharedStore { return try await releaseShared(shared, runID: runID) }
        dispatch(try await admission().finished(runID: runID))
    }

    func dispatch(_ admitted: [RunQueueEntry]) {
        guard !admitted.isEmpty else { return }
        let handler = admissionState.handler.withLock { $0 }
        for entry in admitted {
            logger.debug("run admitted from the queue", metadata: ["run.id": .string(entry.runID), "workflow": .string(entry.workflow)])
            handler?(entry.runID)
        }
    }

    private func rebuildAdmission() async throws -> RunAdmission {
        var holders: [String: String] = [:]
        var queued: [RunQueueEntry] = []
        var limits: [String: ConcurrencyLimits] = [:]
        var seen: Set<String> = []
        for state in try await store.runs(status: RunStatus.unfinished) {
            if seen.insert(state.workflow).inserted {
                // The current definition's limits when the catalog knows it, else the pinned one's.
                let current = await catalog?.workflow(id: state.workflow)?.workflow
                let pinned = current == nil ? try? await workflow(of: state.id) : nil
                limits[state.workflow] = (current ?? pinned)?.concurrency
            }
            if state.status == .queued, state.ending == nil, let place = state.queuePlace {
                queued.append(
                    RunQueueEntry(
                        runID: state.id, workflow: state.workflow, priority: state.priority, sequence: place.sequence,
                        enqueuedAt: state.queuedAt, deadline: place.deadline))
            } else if state.status != .waiting {
                holders[state.id] = state.workflow
            }
        }
        let admission = RunAdmission(
            machine: RunAdmissionMachine(engineLimits: admissionState.limits, workflowLimits: limits, holders: holders, queued: queued),
            clock: clock)
        admissionState.built.withLock { $0 = admission }
        dispatch(admission.admitWaiting())
        return admission
    }
}
