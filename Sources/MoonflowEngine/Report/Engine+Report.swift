package import MoonflowModel

extension Engine {
    /// The execution report of a run (docs/cli.md), from its stored state and definition.
    package func report(_ runID: RunID) async throws -> ExecutionReport {
        guard let state = try await store.state(of: runID) else { throw EngineError.unknownRun(runID) }
        return ExecutionReport(state: state, workflow: try await workflow(of: state))
    }
}

extension ExecutionReport {
    /// The report of a run's state; activities in declaration order, compensations in plan order.
    package init(state: RunState, workflow: Workflow) {
        let activities = workflow.activities.compactMap { state.activities[$0.name] }.map { record in
            ActivityEntry(
                name: record.name, status: record.status, attempts: record.attempts, startedAt: record.startedAt,
                finishedAt: record.finishedAt, input: record.input, output: record.output,
                error: record.error.map { ErrorInfo($0) }, seq: record.seq, viaFallback: record.viaFallback)
        }
        let compensations = state.compensations.map { record in
            CompensationEntry(
                activity: record.activity, handler: record.handler, status: record.status, attempts: record.attempts,
                startedAt: record.startedAt, finishedAt: record.finishedAt, error: record.error.map { ErrorInfo($0) },
                output: record.output)
        }
        let tasks = state.tasks.values.map { task in
            TaskEntry(id: task.id, activity: task.activity, status: task.status, users: task.users, groups: task.groups, due: task.due)
        }
        self.init(
            runID: state.id, workflow: state.workflow, version: state.version, definitionHash: state.definitionHash,
            status: state.status, startedAt: state.startedAt, finishedAt: state.finishedAt, input: state.input,
            context: state.context, output: state.output,
            error: state.error.map { ErrorInfo($0, activity: state.errorActivity) }, activities: activities,
            compensations: compensations, tasks: tasks, events: state.journalLength)
        pauseReason = state.status == .paused ? state.pause?.name : nil
        pausedBefore = state.status == .paused ? state.pause?.activity : nil
        rerunOf = state.rerunOf?.runID
    }
}
