import MoonflowEngine
import MoonflowModel
import Synchronization
import Testing

/// A fixed origin for pure-machine tests.
let t0 = Timestamp(nanosecondsSinceEpoch: 1_800_000_000_000_000_000)

/// Waits until `count` tasks sleep on `clock`, yielding in between; records an issue if they never do.
func waitForSleepers(_ clock: ManualClock, _ count: Int, sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
    for _ in 0..<1_000_000 {
        if clock.sleeperCount == count { return }
        await Task.yield()
    }
    Issue.record("expected \(count) sleepers, found \(clock.sleeperCount)", sourceLocation: sourceLocation)
}

/// Waits until `condition` holds, yielding in between; records an issue if it never does.
func waitUntil(
    _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation, _ condition: () -> Bool
) async {
    for _ in 0..<1_000_000 {
        if condition() { return }
        await Task.yield()
    }
    Issue.record("never happened: \(what)", sourceLocation: sourceLocation)
}

/// An append-only, thread-safe list of what happened, for asserting orders.
final class EventLog: Sendable {
    private let events = Mutex<[String]>([])
    func append(_ event: String) { events.withLock { $0.append(event) } }
    var all: [String] { events.withLock { $0 } }
}

/// Records the executor's observer calls as strings, with times relative to `origin`.
final class RecordingObserver: ActivityObserver {
    let log = EventLog()
    let origin: Timestamp

    init(origin: Timestamp) { self.origin = origin }

    private func offset(_ t: Timestamp) -> String { "\((t - origin).nanoseconds / 1_000_000)ms" }

    func attemptStarted(activity: String, attempt: Int, at: Timestamp) async {
        log.append("started \(attempt) @\(offset(at))")
    }

    func attemptFailed(activity: String, attempt: Int, failure: ActivityFailure, at: Timestamp, nextAttemptAt: Timestamp?) async {
        log.append("failed \(attempt) \(failure.type) @\(offset(at)) next \(nextAttemptAt.map(offset) ?? "-")")
    }

    func fallbackStarted(activity: String, fallback: Fallback, failure: ActivityFailure, at: Timestamp) async {
        log.append("fallback \(failure.type) @\(offset(at))")
    }

    var events: [String] { log.all }
}

/// A value shared between a test and the tasks it starts (a `Mutex` itself cannot be captured).
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}
