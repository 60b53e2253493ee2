package import MoonflowModel

/// An operator's hands on a run (docs/operations.md): pause and unpause, continue from a
/// breakpoint (one step at a time), redrive a run that stopped, rerun one from an activity.
/// Each is refused, with the reason and nothing changed, when the run's state does not allow it.
extension Engine {
    /// Pauses a running or waiting run: it starts no new activity (what runs finishes, timers keep
    /// their times) until `unpause`. A driver running it is told through its mailbox; otherwise
    /// the pause is written here. With `drive`, the run is then driven (its in-flight activities
    /// finish) before this returns.
    package func pause(_ runID: RunID, drive: Bool = true) async throws -> RunStatus {
        try await refuse(runID, unless: [.running, .waiting, .paused], "only a running or waiting run can be paused")
        leases.send(runID, .pause)
        return try await withDriver(runID) { driver in
            switch driver.state.status {
            case .paused: return .paused
            case .running, .waiting:
                guard driver.state.ending == nil else { throw EngineError.refused(runID, reason: "it is ending") }
                return try await driver.pause(drive: drive)
            default: throw EngineError.refused(runID, reason: "it is \(driver.state.status); only a running or waiting run can be paused")
            }
        }
    }

    /// Lets a paused run go on: past the breakpoint it stopped at, to the next one; with `step`,
    /// it runs one activity and pauses again. With `drive`, it is driven until it ends, waits or
    /// pauses again before this returns.
    package func unpause(_ runID: RunID, step: Bool = false, drive: Bool = true) async throws -> RunStatus {
        try await refuse(runID, unless: [.paused], "only a paused run can be unpaused or continued")
        return try await withDriverResumingParent(runID) { driver in
            guard driver.state.status == .paused else {
                throw EngineError.refused(runID, reason: "it is \(driver.state.status); only a paused run can be unpaused or continued")
            }
            return try await driver.unpause(step: step, drive: drive)
        }
    }

    /// Runs a `failed`, `timed_out` or `cancelled` run (one that compensated nothing) again from
    /// where it stopped: completed activities keep their outputs and never run again; failed and
    /// cancelled ones, and what they held back, run with fresh attempts. With `latest` (the
    /// project's current definition of the run's workflow) the run is re-pinned to it, recorded
    /// in `run.redriven`.
    package func redrive(_ runID: RunID, latest: PinnedWorkflow? = nil, drive: Bool = true) async throws -> RunStatus {
        let status = try await leases.withLease(runID) {
            guard let state = try await store.state(of: runID) else { throw EngineError.unknownRun(runID) }
            try Self.checkRedrivable(state)
            // The run runs again: it holds a `max_workflows` slot as a running run does.
            try await resumed(runID, workflow: state.workflow)
            let driver: RunDriver
            if let latest {
                guard latest.workflow.id == state.workflow else { throw EngineError.unknownRun(runID) }
                definitions.remember(latest)
                driver = self.driver(for: state, workflow: latest.workflow, hash: latest.hash)
                return try await driver.redrive(repin: latest.definition, drive: drive)
            }
            driver = self.driver(for: state, workflow: try await workflow(of: state), hash: state.definitionHash)
            return try await driver.redrive(repin: nil, drive: drive)
        }
        if status.isTerminal { try await releaseSlot(of: runID) }
        try await resumeParent(of: runID, status: status)
        return status
    }

    /// Why a run cannot be redriven, if it cannot.
    static func checkRedrivable(_ state: RunState) throws {
        guard [.failed, .timedOut, .cancelled].contains(state.status) else {
            throw EngineError.refused(
                state.id, reason: "it is \(state.status); only a failed, timed_out or cancelled run can be redriven (a compensated one: rerun it)")
        }
        guard state.compensations.isEmpty else {
            throw EngineError.refused(state.id, reason: "it compensated activities; rerun it instead")
        }
    }

    /// Starts a new run of the workflow of `runID` (under its pinned definition, or `latest`) in
    /// which every activity the graph places before `from` takes its recorded output and context
    /// writes from that run without executing; `from` and the rest run. `input` replaces the
    /// original's. The new run records `rerun_of`; the caller drives it.
    package func rerun(_ runID: RunID, from: String, input: Value? = nil, latest: PinnedWorkflow? = nil) async throws -> RunStart {
        guard let original = try await store.state(of: runID) else { throw EngineError.unknownRun(runID) }
        let pinned: PinnedWorkflow
        if let latest {
            guard latest.workflow.id == original.workflow else { throw EngineError.unknownRun(runID) }
            pinned = latest
        } else {
            guard let definition = try await store.definition(of: runID) else { throw EngineError.unknownRun(runID) }
            pinned = PinnedWorkflow(workflow: try await definitions.workflow(for: definition), definition: definition)
        }
        let workflow = pinned.workflow
        guard workflow.activity(named: from) != nil else { throw EngineError.unknownActivity(workflow: workflow.id, activity: from) }
        let before = workflow.ancestors(of: from)
        let journal = try await store.journal(of: runID)
        var adopted: [RunEvent] = []
        for name in workflow.activities.map(\.name) where before.contains(name) {
            guard let record = original.activities[name], record.status.satisfiesDependents,
                let settled = journal.last(where: { $0.activity == name && $0.isSettlement })
            else {
                throw EngineError.refused(
                    runID, reason: "activity '\(name)', which '\(from)' follows, did not complete in it; rerun from '\(name)' or earlier")
            }
            if let input = record.input { adopted.append(RunEvent(.activityScheduled(input: input), runID: "", workflow: "", activity: name, at: settled.at)) }
            adopted.append(settled)
        }
        return try await create(
            pinned, input: input ?? original.input, runID: nil, event: original.triggerEvent, parent: nil, origin: .request,
            rerun: Rerun(source: RerunSource(runID: runID, from: from), adopted: adopted))
    }

    private func refuse(_ runID: RunID, unless allowed: Set<RunStatus>, _ rule: String) async throws {
        guard let state = try await store.state(of: runID) else { throw EngineError.unknownRun(runID) }
        guard allowed.contains(state.status) else { throw EngineError.refused(runID, reason: "it is \(state.status); \(rule)") }
    }
}

/// What a rerun takes from the run it reruns: the settling events (`activity.completed`,
/// `activity.skipped`, with the `activity.scheduled` that gave each its input) of the activities
/// before the one it reruns from.
struct Rerun {
    var source: RerunSource
    var adopted: [RunEvent]

    /// The adopted events as the new run's: renumbered in its completion order, and with nothing
    /// to announce again (the original emitted its events already).
    func adoptedEvents(runID: RunID, workflow: String, at: Timestamp) -> [RunEvent] {
        var seq = 0
        return adopted.map { original in
            var payload = original.payload
            if case .activityCompleted(var completion) = payload {
                seq += 1
                completion.seq = seq
                completion.emitted = []
                payload = .activityCompleted(completion)
            }
            return RunEvent(payload, runID: runID, workflow: workflow, activity: original.activity, at: at)
        }
    }
}

extension RunEvent {
    /// An event that settles an activity for good.
    fileprivate var isSettlement: Bool {
        switch payload {
        case .activityCompleted, .activitySkipped: true
        default: false
        }
    }
}

extension Workflow {
    /// The activities `name` depends on, directly or through others.
    func ancestors(of name: String) -> Set<String> {
        var found = Set<String>()
        var pending = [name]
        while let next = pending.popLast() {
            for dependency in activity(named: next)?.dependencies ?? [] where found.insert(dependency.activity).inserted {
                pending.append(dependency.activity)
            }
        }
        return found
    }
}

extension RunAdmissionMachine.Decision {
    /// A start admission refused at once (`QueueFull`).
    var rejects: Bool { if case .rejected = self { true } else { false } }
}
