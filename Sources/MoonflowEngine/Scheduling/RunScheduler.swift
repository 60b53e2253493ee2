package import MoonflowModel

/// The pure part of running a workflow's graph (docs/workflow-format.md, "Order" and "States"): given the definition and a
/// run's state, what happens next. No I/O; the engine evaluates conditions and runs bodies, then
/// feeds the resulting events back through the fold.
package struct RunScheduler: Sendable {
    package let workflow: Workflow
    /// Activities of one run at once (`concurrency.max_activities`); `nil` is unbounded.
    package let maxActivities: Int?
    /// For each activity (declaration order), the positions of its dependencies in
    /// `workflow.activities` (`nil` for a name it does not declare): `decide` runs after every
    /// transition, and reads statuses by position instead of hashing names.
    private let dependencyPositions: [[Int?]]
    /// The order ready activities take the `max_activities` room in: declaration order, or with
    /// `queuing.strategy: priority` higher `priority` first (ties in declaration order).
    private let startOrder: [Int]

    package init(workflow: Workflow) {
        self.workflow = workflow
        self.maxActivities = workflow.concurrency?.maxActivities
        var positions: [String: Int] = [:]
        for (position, activity) in workflow.activities.enumerated() where positions[activity.name] == nil {
            positions[activity.name] = position
        }
        self.dependencyPositions = workflow.activities.map { activity in activity.dependencies.map { positions[$0.activity] } }
        let declared = Array(workflow.activities.indices)
        self.startOrder =
            workflow.concurrency?.strategy == .priority
            ? declared.sorted { (workflow.activities[$1].priority, $0) < (workflow.activities[$0].priority, $1) } : declared
    }

    /// What the run does next.
    package enum Decision: Sendable, Hashable {
        /// Start (or skip, after their conditions are evaluated) these activities, in declaration
        /// order (or by `priority` under `strategy: priority`), as many as `max_activities` leaves room for.
        case start([String])
        /// Wait for in-flight activities to finish.
        case awaitInFlight
        /// Only activities on a human, a child run or a timer remain: the run waits.
        case wait
        /// Every activity finished and let its dependents run: the run completes.
        case complete
        /// The run stops scheduling (`run.failing` was recorded): cancel what is in flight, then
        /// compensate or end.
        case windDown(RunEnding)
    }

    package func decide(_ state: RunState) -> Decision {
        if let ending = state.ending { return .windDown(ending) }
        // One pass over the records, one over the definition: statuses are read in place (a
        // record is never copied) into a scratch buffer on the stack, as `decide` runs after every
        // transition.
        let activities = workflow.activities
        return withUnsafeTemporaryAllocation(of: ActivityStatus?.self, capacity: activities.count) { statuses in
            var inFlight = 0
            var waiting = false
            var allSatisfied = true
            state.activities.values.withUnsafeBufferPointer { records in
                for index in records.indices {
                    let status = records[index].status
                    if status.isInFlight { inFlight += 1 }
                    if status == .waiting { waiting = true }
                    if !status.satisfiesDependents { allSatisfied = false }
                }
                declaredStatuses(state, records, into: statuses)
            }
            let room = maxActivities.map { max(0, $0 - inFlight) } ?? Int.max
            var ready: [String] = []
            for position in startOrder where ready.count < room && statuses[position] == .pending {
                let satisfied = dependencyPositions[position].allSatisfy { dependency in
                    dependency.flatMap { statuses[$0] }?.satisfiesDependents ?? false
                }
                if satisfied { ready.append(activities[position].name) }
            }
            if !ready.isEmpty { return .start(ready) }
            if inFlight > 0 { return .awaitInFlight }
            if waiting { return .wait }
            if allSatisfied { return .complete }
            // A pending activity whose dependency failed or was cancelled can never run; the failure
            // itself records `run.failing`, so this is reached only by an inconsistent journal.
            return .windDown(.failed)
        }
    }

    /// Writes the status of each declared activity, by position, into `statuses`. A run's records
    /// are in declaration order (`run.queued` lists the activities), so each is read in place; a
    /// name is looked up only where the records do not line up with the definition.
    private func declaredStatuses(
        _ state: RunState, _ records: UnsafeBufferPointer<ActivityRecord>, into statuses: UnsafeMutableBufferPointer<ActivityStatus?>
    ) {
        let activities = workflow.activities
        let names = state.activities.keys
        for position in activities.indices {
            let status =
                if position < records.count, names[position] == activities[position].name {
                    records[position].status
                } else {
                    state.activities[activities[position].name]?.status
                }
            statuses.initializeElement(at: position, to: status)
        }
    }

    /// Every dependency completed (by itself or a fallback) or was skipped.
    package func dependenciesSatisfied(_ activity: Activity, in state: RunState) -> Bool {
        activity.dependencies.allSatisfy { state.activities[$0.activity]?.status.satisfiesDependents ?? false }
    }

    /// Conditional dependencies (edges with `when`) whose condition must be evaluated: those whose
    /// source completed. A conditional dependency on a skipped activity is not taken.
    package func conditionsToEvaluate(for activity: Activity, in state: RunState) -> [Dependency] {
        activity.dependencies.filter { dependency in
            dependency.when != nil && state.activities[dependency.activity]?.status.isCompletion == true
        }
    }

    /// Whether an activity with conditional dependencies runs, given the sources of those whose
    /// condition held: it is skipped unless some incoming dependency is taken. A dependency without
    /// `when` is always taken; an activity without conditional dependencies always runs.
    package func runsAfterEdges(_ activity: Activity, taken: Set<String>) -> Bool {
        guard activity.dependencies.contains(where: { $0.when != nil }) else { return true }
        return activity.dependencies.contains { $0.when == nil || taken.contains($0.activity) }
    }
}

extension ActivityStatus {
    /// Completed by itself or by its fallback.
    var isCompletion: Bool { self == .completed || self == .completedViaFallback }
}
