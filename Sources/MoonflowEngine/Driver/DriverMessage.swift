import MoonflowModel

/// A message to the task driving a run.
enum DriverMessage: Sendable {
    case attemptStarted(activity: String, attempt: Int, at: Timestamp, ack: CheckedContinuation<Void, Never>)
    case attemptFailed(
        activity: String, attempt: Int, failure: ActivityFailure, nextAttemptAt: Timestamp?,
        ack: CheckedContinuation<Void, Never>)
    case fallbackStarted(activity: String, failure: ActivityFailure, notify: Bool, ack: CheckedContinuation<Void, Never>)
    /// The `log.*` entries and the recording of one execution of a body (sent before how the attempt ended).
    case scriptLogs(activity: String, attempt: Int, trace: ScriptTrace)
    /// An activity's (or a compensation's) execution ended; `outcome` is what its successful body returned.
    case finished(activity: String, result: ActivityExecutionResult, outcome: ScriptOutcome?)
    /// A child run's drive returned with this state.
    case childSettled(activity: String, child: RunState)
    /// A breaker changed state in this activity's call: the run records it (`circuit.*`).
    case circuitTransition(activity: String, transition: CircuitTransition)
    case deadline
    case stop(RunEnding)
    /// An operator paused the run: nothing new starts.
    case pause

    /// Lets a sender waiting for the driver's acknowledgement go when the message is dropped.
    func acknowledge() {
        switch self {
        case .attemptStarted(_, _, _, let ack), .attemptFailed(_, _, _, _, let ack), .fallbackStarted(_, _, _, let ack):
            ack.resume()
        case .scriptLogs, .finished, .childSettled, .circuitTransition, .deadline, .stop, .pause: break
        }
    }
}

/// Where the driver of a run's forward phase is reached: its mailbox, and the stop of the script it
/// may run in its own task (`RunDriver.runInPlace`), which a message that stops the phase must
/// interrupt as the cancellation of a child task would.
struct DriverInbox: Sendable {
    let mailbox: AsyncStream<DriverMessage>.Continuation
    let scriptStop: ScriptStop

    func deliver(_ message: DriverMessage) {
        mailbox.yield(message)
        switch message {
        case .stop, .deadline: scriptStop.request()
        default: break
        }
    }
}
