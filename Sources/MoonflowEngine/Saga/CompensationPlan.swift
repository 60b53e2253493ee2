package import MoonflowModel

/// One compensation to run: the activity undone and the handler that undoes it.
package struct CompensationStep: Sendable, Hashable {
    package var activity: String
    package var handler: Handler

    /// How reports name the handler: the script, `call:<builtin>`, `workflow:<id>` or `manual`.
    package var handlerName: String { handler.body.displayName }
}

/// Which activities a failed run undoes, and in which order (docs/workflow-format.md). Pure.
package enum CompensationPlanner {
    /// `workflow_error.strategy`, defaulting to `compensate` when any activity (or fallback) declares a compensation.
    package static func compensates(_ workflow: Workflow) -> Bool {
        switch workflow.errorHandling.strategy {
        case .compensate: true
        case .fail: false
        case nil:
            !workflow.compensation.activities.isEmpty
                || workflow.activities.contains { $0.compensate != nil || workflow.fallback(for: $0)?.compensation != nil }
        }
    }

    /// Failed activities with `compensate_on_failure` first (the most recent effects), then
    /// `completed` ones by strictly decreasing `seq`; a `completed_via_fallback` activity only
    /// through its fallback's own `compensate`. With `strategy: parallel` the order is only the
    /// order they are started in.
    package static func plan(_ workflow: Workflow, state: RunState) -> [CompensationStep] {
        var failed: [CompensationStep] = []
        var completed: [(seq: Int, step: CompensationStep)] = []
        for activity in workflow.activities {
            guard let record = state.activities[activity.name] else { continue }
            switch record.status {
            case .completed:
                if let compensation = activity.compensate {
                    completed.append((record.seq ?? 0, CompensationStep(activity: activity.name, handler: compensation.handler)))
                }
            case .completedViaFallback:
                if let compensation = workflow.fallback(for: activity)?.compensation {
                    completed.append((record.seq ?? 0, CompensationStep(activity: activity.name, handler: compensation.handler)))
                }
            case .failed where activity.compensateOnFailure:
                if let compensation = activity.compensate {
                    failed.append(CompensationStep(activity: activity.name, handler: compensation.handler))
                }
            default: break
            }
        }
        // `compensation.activities`: once each, after the per-activity ones; in reverse list order
        // with `strategy: reverse`, in list order otherwise.
        let listed = workflow.compensation.activities.map { CompensationStep(activity: $0.name, handler: $0.handler) }
        let workflowLevel = workflow.compensation.strategy == .reverse ? listed.reversed() : listed
        return failed + completed.sorted { $0.seq > $1.seq }.map(\.step) + workflowLevel
    }
}

extension Workflow {
    /// The fallback that applies to an activity: a manual task's `on_timeout`, its own, or the
    /// workflow default of `error_handling.activity_error`.
    package func fallback(for activity: Activity) -> Fallback? {
        if case .manual(let task) = activity.body, let onTimeout = task.onTimeout { return onTimeout }
        return activity.fallback ?? errorHandling.fallback
    }
}

extension Fallback {
    /// A fallback body's own compensation: the only way a `completed_via_fallback` activity is undone.
    var compensation: Compensation? {
        if case .body(let handler) = action { handler.compensate } else { nil }
    }
}

extension ActivityBody {
    var displayName: String {
        switch self {
        case .lua(let chunk): chunk.name
        case .builtin(let builtin): "call:\(builtin)"
        case .manual: "manual"
        case .workflow(let id): "workflow:\(id)"
        }
    }
}
