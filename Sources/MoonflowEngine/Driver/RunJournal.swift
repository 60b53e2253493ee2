import Logging
import MoonflowModel

/// How a run's driver writes its journal. Events are staged — folded into the driver's state at
/// once, written later — and flushed as one transaction: a step's completion and the starts of the
/// steps it lets run go to the store in one write, just before a body runs or the driver waits,
/// instead of one write each. A transaction is published on the bus by the store's writer as it
/// commits (subscribers get events in position order), then logged and counted.
struct RunJournal {
    private let store: any RunStore
    private let bus: EventBus
    private let clock: any EngineClock
    let logger: Logger
    private let metrics: EngineMetrics
    private let failpoints: Failpoints
    private let storageRetry: StorageRetry
    let workflow: String
    /// `workflow_error.notification`: announced after the transition that ends the run.
    let notification: ErrorHandling.Notification?
    /// Who is told what through the outbox (`RunJournal+Notifications`).
    let channels: Channels
    /// Events folded into the state but not written yet.
    private var staged: [RunEvent] = []
    /// Whether the run had ended before the staged events.
    private var stagedFromTerminal = false

    init(environment: DriverEnvironment, workflow: Workflow) {
        store = environment.store
        bus = environment.bus
        clock = environment.clock
        logger = environment.logger
        metrics = environment.metrics
        failpoints = environment.failpoints
        storageRetry = environment.storageRetry
        self.workflow = workflow.id
        notification = workflow.errorHandling.notification
        channels = Channels(workflow)
    }

    /// Folds events into the state without writing them yet: `flush` writes them, before anything
    /// depends on them being durable. The state is folded in place: folding into a copy copied
    /// every activity record on every transition.
    /// A notification an event calls for is staged right after it (the run's outbox).
    mutating func stage(_ events: [RunEvent], into state: inout RunState) {
        if staged.isEmpty {
            stagedFromTerminal = state.status.isTerminal
            // A transition is a few events (a chain of built-ins, more): one allocation for most.
            staged.reserveCapacity(max(8, events.count))
        }
        for event in events {
            state.apply(event)
            staged.append(event)
            for queued in notifications(after: event, in: state) {
                state.apply(queued)
                staged.append(queued)
            }
        }
    }

    /// Writes the staged events, and `state` they fold to, as one transaction. A storage fault is
    /// waited out (`StorageRetryPolicy`), unless `failingFast`: the transition an operation's caller
    /// waits on (a task completion, a cancel, a resumed compensation) fails at once instead — nothing
    /// is stored and the caller is told. A write the store refuses otherwise (or past the retries)
    /// throws; `state` is then the store's again (as it was before these events), for whatever the
    /// driver's callers read before it is dropped.
    mutating func flush(_ state: inout RunState, failingFast: Bool = false) async throws {
        guard !staged.isEmpty else { return }
        let events = staged
        staged = []
        failpoints.reach(.beforeCommit, of: events)
        // Published by the store's writer as the transaction commits, so subscribers get events
        // in position order; events a body emitted follow the completion they belong to.
        let publisher = publication(of: events, in: state).publisher(on: bus)
        do {
            try await write(events, state, retryingStorageFaults: !failingFast, committed: publisher)
        } catch {
            if let stored = try? await store.state(of: state.id) { state = stored }
            throw error
        }
        failpoints.reach(.afterCommit, of: events)
        logAnnouncements(events, in: state)
        for event in events { record(event, in: state) }
        if state.status.isTerminal, !stagedFromTerminal, let finished = state.finishedAt {
            metrics.runEnded(workflow: workflow, status: state.status, after: finished - (state.startedAt ?? state.queuedAt), at: finished)
        }
    }

    /// Writes `event` (nothing may be staged) and pins the run to `definition` from now on, in one
    /// transaction: a compensation resumed under the project's current definition.
    func repin(_ state: inout RunState, to definition: PinnedDefinition, with event: RunEvent) async throws {
        var next = state
        next.apply(event)
        try await store.repin(
            state.id, to: definition, events: [event], newState: next, committed: publication(of: [event], in: next).publisher(on: bus))
        state = next
    }

    /// `store.append`; with `retryingStorageFaults`, written again after a backoff while the store
    /// refuses it with a storage fault (`StorageRetryPolicy`), each retry logged and counted.
    /// Sleeps on the engine clock.
    private func write(_ events: [RunEvent], _ state: RunState, retryingStorageFaults: Bool, committed: @escaping CommitHandler) async throws {
        do {
            return try await store.append(state.id, events: events, newState: state, committed: committed)
        } catch let error as RunStoreError where error.isStorageFault && retryingStorageFaults {
            let policy = storageRetry.policy
            let logger = logger.run(state.id, workflow: workflow)
            var last = error
            for retry in 1...max(1, policy.maximumRetries) where policy.maximumRetries > 0 && !Task.isCancelled {
                let delay = policy.delay(before: retry)
                storageRetry.record(last)
                logger.warning("store write failed; retrying in \(delay) (\(retry) of \(policy.maximumRetries)): \(last)")
                try await clock.sleep(until: clock.now + delay)
                do {
                    try await store.append(state.id, events: events, newState: state, committed: committed)
                    logger.notice("store write succeeded after \(retry) retries")
                    return
                } catch let error as RunStoreError where error.isStorageFault {
                    last = error
                }
            }
            if policy.maximumRetries > 0 { logger.error("store write failed; giving up after the retries: \(last)") }
            throw last
        }
    }

    /// The log line and the metrics of one written event.
    private func record(_ event: RunEvent, in state: RunState) {
        switch event.payload {
        case .activityLog: break  // logged by the sandbox's sink, at its own level, as the script ran
        case .activityFailed(let failure, _), .runFailing(_, let failure, _), .compensationFailed(let failure, _), .taskExpired(_, let failure):
            if logger.logLevel <= .warning {
                logger.run(state.id, workflow: workflow, activity: event.activity, attempt: event.attempt)
                    .warning("\(event.type)", metadata: ["error": .string(failure.description)])
            }
        default:
            if logger.logLevel <= .info {
                logger.run(state.id, workflow: workflow, activity: event.activity, attempt: event.attempt).info("\(event.type)")
            }
        }
        switch event.payload {
        case .activityStarted:
            metrics.activityStarted(workflow: workflow, activity: event.activity ?? "")
        case .activityCompleted, .activityFailed:
            if let name = event.activity, let started = state.activities[name]?.startedAt {
                metrics.activityEnded(workflow: workflow, activity: name, after: event.at - started, at: event.at)
            }
        default: break
        }
    }
}
