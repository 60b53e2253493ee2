import MoonflowModel

/// What a drive loop schedules (`RunDriver.run(_:)`).
enum DrivePhase {
    /// The run's activities, as the scheduler lets them start.
    case forward
    /// The run's compensations, as the queue lets them start.
    case compensating(CompensationQueue)

    var isForward: Bool { if case .forward = self { true } else { false } }
}

extension RunDriver {
    /// The drive loop of both phases. It starts what the phase lets start, then folds the reports
    /// of what runs — child tasks sending to the mailbox — and starts what those let start, until
    /// nothing runs. When the phase must stop (the run began to end; the compensation timeout
    /// passed), what runs is cancelled, and the loop goes on until each has reported.
    func run(_ phase: inout DrivePhase) async throws {
        let (messages, mailbox) = AsyncStream<DriverMessage>.makeStream()
        let inbox = DriverInbox(mailbox: mailbox, scriptStop: ScriptStop())
        // Cancel and terminate reach both phases: a run that compensates ignores a cancel, and a
        // terminate stops its compensations.
        environment.leases.setInbox(state.id, inbox)
        if phase.isForward { scriptStop = inbox.scriptStop }
        defer {
            environment.leases.setInbox(state.id, nil)
            scriptStop = nil
        }
        let deadline: Timestamp? =
            switch phase {
            case .forward: state.deadline
            case .compensating(let queue): queue.timedOut ? nil : queue.deadline
            }
        var failure: (any Error)?
        // Child runs live in the outer group, which is never cancelled: a child is stopped through
        // its own driver so that it can compensate. Bodies and the deadline live in the inner one.
        await withTaskGroup(of: Void.self) { childGroup in
            await withTaskGroup(of: Void.self) { group in
                if let deadline {
                    group.addTask { [clock = environment.clock] in
                        do {
                            try await clock.sleep(until: deadline)
                            inbox.deliver(.deadline)
                        } catch {}
                    }
                }
                do {
                    try await start(&phase, resuming: true, &group, &childGroup, mailbox)
                    var stopping = false
                    var iterator = messages.makeAsyncIterator()
                    while true {
                        if !stopping, mustStop(phase) {
                            stopping = true
                            group.cancelAll()
                            let childEnding: RunEnding = state.ending == .terminated ? .terminated : .cancelled
                            for child in children.values { environment.leases.send(child, .stop(childEnding)) }
                        }
                        guard !running.isEmpty || !children.isEmpty else { break }
                        // Nothing waits on a transition that is not written.
                        try await flush()
                        guard let message = await iterator.next() else { break }
                        try await handle(message, &phase)
                        try await start(&phase, resuming: false, &group, &childGroup, mailbox)
                    }
                } catch {
                    failure = error
                }
                await Self.closePhase(&group, messages, mailbox)
            }
        }
        if let failure { throw failure }
    }

    /// Starts what the phase lets start now. When the loop begins (`resuming`), the forward phase
    /// first runs again what a previous drive left in flight.
    private func start(
        _ phase: inout DrivePhase, resuming: Bool, _ group: inout TaskGroup<Void>, _ childGroup: inout TaskGroup<Void>,
        _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) async throws {
        switch phase {
        case .forward:
            if resuming { try await resumeInFlight(&group, &childGroup, mailbox) }
            if state.ending == nil { try await pump(&group, &childGroup, mailbox) }
        case .compensating(var queue):
            try await startCompensations(&queue, &group, mailbox)
            phase = .compensating(queue)
        }
    }

    /// Whether what runs must be cancelled.
    private func mustStop(_ phase: DrivePhase) -> Bool {
        switch phase {
        case .forward: state.ending != nil
        case .compensating(let queue): queue.timedOut || state.ending == .terminated
        }
    }

    /// Ends a phase: what still runs is cancelled, the mailbox closes, and senders still waiting
    /// for an acknowledgement are let go (the group then waits for its tasks).
    static func closePhase(
        _ group: inout TaskGroup<Void>, _ messages: AsyncStream<DriverMessage>, _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) async {
        group.cancelAll()
        mailbox.finish()
        for await message in messages { message.acknowledge() }
    }

    /// Folds one report into the journal. A report that must be durable before its sender goes on
    /// (an attempt's start or failure, a fallback) is committed before it is acknowledged.
    private func handle(_ message: DriverMessage, _ phase: inout DrivePhase) async throws {
        switch message {
        case .attemptStarted(let name, let attempt, let at, let ack):
            defer { ack.resume() }
            try await commit([event(phase.isForward ? .activityStarted : .compensationStarted, name, attempt: attempt, at: at)])
        case .attemptFailed(let name, let attempt, let failure, let nextAttemptAt, let ack):
            defer { ack.resume() }
            guard phase.isForward else {
                return logger(name, attempt: attempt).warning("compensation attempt failed: \(failure)")
            }
            logger(name, attempt: attempt).warning("attempt failed: \(failure)")
            if let nextAttemptAt {
                try await commit([event(.activityRetrying(error: failure, nextAttemptAt: nextAttemptAt), name, attempt: attempt)])
            }
        case .fallbackStarted(let name, let failure, let notify, let ack):
            // Only an activity has a fallback: a compensation's executions never send this.
            defer { ack.resume() }
            try await commit([event(.activityFallback(error: failure, notify: notify), name)])
        case .scriptLogs(let name, let attempt, let trace):
            stage(logEvents(name, attempt: attempt, trace))  // written with what the driver commits next
        case .finished(let name, let result, let outcome):
            running.remove(name)
            children[name] = nil
            guard !Task.isCancelled else { return }
            switch phase {
            case .forward:
                settle(name, result, outcome)
            case .compensating(var queue):
                settleCompensation(name, result, outcome, &queue)
                phase = .compensating(queue)
            }
        case .circuitTransition(let name, let transition):
            try await commit([circuitEvent(name, transition)])
        case .childSettled(let name, let child):
            children[name] = nil
            guard !Task.isCancelled else { return }
            try await settleChild(name, child)
        case .deadline:
            switch phase {
            case .forward:
                guard state.ending == nil else { return }
                try await commit(endingEvents(.timedOut, failure: ActivityFailure(.timeout, "the workflow timeout passed"), activity: nil))
            case .compensating(var queue):
                queue.timedOut = true
                phase = .compensating(queue)
                logger(nil).warning("compensation.timeout passed: stopping the compensations still running")
            }
        case .pause:
            if state.status == .running, state.ending == nil { try await commit([event(.runPaused(.requested))]) }
        case .stop(let ending):
            if state.ending == nil || (ending == .terminated && state.ending != .terminated) {
                try await commit(endingEvents(ending, failure: Self.stopFailure(ending), activity: nil))
            }
        }
    }

    /// Stages how an activity ended: it is written with whatever the driver does next.
    func settle(_ name: String, _ result: ActivityExecutionResult, _ outcome: ScriptOutcome?) {
        switch result {
        case .completed(let output, let attempts):
            stage(completionEvents(name, output: output, attempts: attempts, outcome: outcome, rescued: nil))
        case .completedViaFallback(let output, let attempts, let failure):
            stage(completionEvents(name, output: output, attempts: attempts, outcome: outcome, rescued: failure))
        case .skippedByFallback(let attempts, let failure):
            stage([event(.activitySkipped(.fallback(error: failure, attempts: attempts)), name)])
        case .failed(let failure, let attempts):
            // Cancelled before its first report, an activity whose attempt 1 was journaled with
            // its start still counts that attempt.
            stage(failureEvents(name, failure, attempts: max(attempts, state.activities[name]?.attempts ?? 0)))
        }
    }
}
