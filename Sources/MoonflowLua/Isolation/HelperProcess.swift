internal import CIsolation
import Dispatch
import Foundation
import Glibc
import MoonflowModel
import OrderedCollections
import Synchronization

/// One sandbox helper as its engine holds it: the process, its socket, its use so far.
///
/// `@unchecked Sendable`: the socket and counters are used by one thread at a time — whoever took
/// the helper from the runner's idle list; `kill` (cancellation, from any thread) touches only the
/// pid, under the lock that reaping takes too, so a reaped pid is never signalled.
final class HelperProcess: @unchecked Sendable {
    let pid: pid_t
    private let channel: FrameChannel
    private(set) var executions = 0
    /// The helper's peak resident set as it last reported it.
    private(set) var peakRSS: UInt64 = 0
    /// Whether the process was reaped (after which the pid is not ours to signal).
    private let state = Mutex(State())

    private struct State {
        var reaped = false
        /// The socket is closed once: its number may belong to another helper afterwards.
        var closed = false
        var killedForCancel = false
        var status: Int32 = 0
    }

    /// How the engine starts helpers.
    struct Launch: Sendable {
        var executable: String
        var addressSpace: UInt64
        var testLedger: Bool
        /// The largest frame a helper may send (the execution's output, writes and events fit).
        var maxFrame: Int
        /// Wait for `hello` at most this long (a loaded machine starts processes slowly).
        var startTimeout: Duration = .seconds(20)
    }

    private init(pid: pid_t, channel: FrameChannel) {
        self.pid = pid
        self.channel = channel
    }

    deinit { retire() }

    /// Starts a helper and waits for its `hello`. The spawn is made from a thread that lives as
    /// long as the engine: a helper's `PR_SET_PDEATHSIG` fires when the *thread* that started it
    /// ends, and the threads of Swift's pools come and go.
    static func start(_ launch: Launch) throws(ActivityFailure) -> HelperProcess {
        try HelperSpawner.shared.perform { () throws(ActivityFailure) -> HelperProcess in try spawn(launch) }
    }

    /// Starts a helper on the spawner thread and hands it to `ready` there, without waiting
    /// (`nil` when it could not start).
    static func startInBackground(_ launch: Launch, ready: @escaping @Sendable (HelperProcess?) -> Void) {
        HelperSpawner.shared.submit { ready(try? spawn(launch)) }
    }

    /// Kills the helper now and reaps it on the spawner thread, so the caller does not wait for
    /// the process to end.
    func retireInBackground() {
        kill(forCancel: false)
        HelperSpawner.shared.submit { self.retire() }
    }

    private static func spawn(_ launch: Launch) throws(ActivityFailure) -> HelperProcess {
        var fds: [Int32] = [-1, -1]
        guard mf_iso_socketpair(&fds) == 0 else {
            throw ActivityFailure(.sandboxCrashed, "could not start a sandbox helper: socketpair: \(String(cString: strerror(errno)))")
        }
        let arguments = [launch.executable, SandboxHelper.command]
            + SandboxHelper.Arguments(parent: getpid(), addressSpace: launch.addressSpace, testLedger: launch.testLedger).list
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let error = mf_iso_spawn(launch.executable, argv, fds[1], &pid)
        close(fds[1])
        guard error == 0 else {
            close(fds[0])
            throw ActivityFailure(.sandboxCrashed, "could not start a sandbox helper (\(launch.executable)): \(String(cString: strerror(error)))")
        }
        let helper = HelperProcess(pid: pid, channel: FrameChannel(descriptor: fds[0], maxFrame: launch.maxFrame))
        let deadline = mf_iso_now_ns() &+ UInt64(launch.startTimeout.components.seconds) * 1_000_000_000
        guard case .frame(.hello, let payload) = helper.channel.receive(deadline: deadline) else {
            helper.retire()
            throw ActivityFailure(.sandboxCrashed, "the sandbox helper did not start (\(helper.exitDescription))")
        }
        var reader = FrameReader(payload, maxDepth: 1)
        guard (try? reader.u32()) == HelperProtocol.version else {
            helper.retire()
            throw ActivityFailure(.sandboxCrashed, "the sandbox helper speaks another protocol version than \(HelperProtocol.version)")
        }
        return helper
    }

    /// Whether the process is gone (reaped).
    var isGone: Bool { state.withLock { $0.reaped } }

    /// SIGKILL (cancellation: the waiter then reports `Cancelled`).
    func kill(forCancel: Bool) {
        state.withLock { state in
            guard !state.reaped else { return }
            if forCancel { state.killedForCancel = true }
            _ = Glibc.kill(pid, SIGKILL)
        }
    }

    /// Ends the helper (its socket closed, the process killed and reaped); again is nothing.
    func retire() {
        kill(forCancel: false)
        reap()
        let open = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        if open { close(channel.descriptor) }
    }

    private func reap() {
        state.withLock { state in
            guard !state.reaped else { return }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
            state.status = status
            state.reaped = true
        }
    }

    /// How the process ended, for a `SandboxCrashed` message.
    private var exitDescription: String {
        let status = state.withLock { $0.status }
        let signal = status & 0x7f
        if signal != 0 {
            let name = [SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGSYS: "SIGSYS (seccomp)", SIGXCPU: "SIGXCPU", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS"][signal]
            return "killed by \(name ?? "signal \(signal)")"
        }
        return "exit status \((status >> 8) & 0xff)"
    }

    /// What one execution came to, and whether the helper must not run another.
    struct Execution {
        var result: Result<ScriptOutcome, ActivityFailure>
        var retire: Bool
    }

    /// Runs `invocation` in the helper and serves its calls back until it answers, dies, or
    /// passes `deadline` (monotonic ns) by `grace` (the watchdog: it is killed).
    func execute(_ invocation: ScriptInvocation, deadline: UInt64, grace: UInt64, ledger: LuaTestLedger?) -> Execution {
        executions += 1
        let now = mf_iso_now_ns()
        HelperRequest.write(invocation, remaining: deadline > now ? deadline - now : 0, into: &channel.writer)
        guard channel.send() else { return crashed() }
        var logs: [ScriptLogEntry] = []
        // The host budget, charged here too: a helper that sends more than its script may keep
        // is not trusted further.
        var charged = 0
        let budget = invocation.limits.hostMemory + invocation.limits.outputSize
        // Counted from the send when the deadline passed already (a helper that had to start
        // first): the helper answers `Timeout` at once, and must have the time to say so.
        let watchdog = max(deadline, mf_iso_now_ns()) &+ grace
        while true {
            switch channel.receive(deadline: watchdog) {
            case .frame(let kind, let payload):
                charged += payload.count
                var reader = FrameReader(payload, maxDepth: invocation.limits.valueDepth + 2)
                do throws(FrameError) {
                    switch kind {
                    case .log:
                        guard charged <= budget else { return misbehaved("sent \(charged) bytes of logs, over its host budget") }
                        let entry = ScriptLogEntry(level: try reader.string(), message: try reader.string(), fields: try reader.value())
                        logs.append(entry)
                        invocation.logSink?(entry)
                    case .http:
                        guard let http = invocation.http else { return misbehaved("made a request it was not given") }
                        let request = try reader.httpCall()
                        let answer = perform(request, through: http, deadline: deadline)
                        channel.writer.begin(.httpAnswer)
                        switch answer {
                        case .success(let response):
                            channel.writer.bool(true)
                            channel.writer.httpResponse(response)
                        case .failure(let failure):
                            channel.writer.bool(false)
                            channel.writer.failure(failure)
                        }
                        guard channel.send() else { return crashed() }
                    case .ledger:
                        let tag = try reader.string()
                        let activity = try reader.value()
                        let problem = ledger.map { $0.append(tag: tag, activity: activity) } ?? "test.ledger: no ledger"
                        channel.writer.begin(.ledgerAnswer)
                        channel.writer.optionalString(problem)
                        guard channel.send() else { return crashed() }
                    case .done:
                        let output = try reader.value()
                        let writes = try reader.object()
                        let count = Int(try reader.u32())
                        var events: [EmittedEvent] = []
                        for _ in 0..<min(count, payload.count) { events.append(EmittedEvent(type: try reader.string(), payload: try reader.value())) }
                        peakRSS = try reader.u64()
                        try deliverRecording(&reader, to: invocation)
                        channel.trim()
                        return Execution(
                            result: .success(ScriptOutcome(output: output, contextWrites: writes, logs: logs, events: events)), retire: false)
                    case .failed:
                        let failure = try reader.failure()
                        let tripped = try reader.bool()
                        peakRSS = try reader.u64()
                        try deliverRecording(&reader, to: invocation)
                        channel.trim()
                        return Execution(result: .failure(failure), retire: tripped)
                    default:
                        return misbehaved("sent a frame of kind \(kind)")
                    }
                } catch {
                    return misbehaved("sent a malformed frame: \(error.message)")
                }
            case .late:
                kill(forCancel: false)
                reap()
                let failure = ActivityFailure(
                    .sandboxCrashed, "the sandbox helper passed its deadline by \(grace / 1_000_000)ms and was killed by the watchdog",
                    script: invocation.chunk.name)
                return Execution(result: .failure(failure), retire: true)
            case .closed:
                return crashed(script: invocation.chunk.name)
            case .malformed(let problem):
                return misbehaved("sent \(problem)")
            }
        }
    }

    /// Reads the recording at the end of a `done` or `failed` frame and tells the invocation's
    /// sink; one it did not ask for, or bytes after it, mean the helper is not speaking the protocol.
    private func deliverRecording(_ reader: inout FrameReader, to invocation: ScriptInvocation) throws(FrameError) {
        let recording = try reader.recording()
        guard reader.isAtEnd else { throw FrameError(message: "bytes after the recording") }
        guard let recording else { return }
        guard let sink = invocation.recordingSink else { throw FrameError(message: "a recording the engine did not ask for") }
        sink(recording)
    }

    /// The helper died under the execution (or was killed for a cancellation).
    private func crashed(script: String? = nil) -> Execution {
        reap()
        if state.withLock({ $0.killedForCancel }) {
            return Execution(result: .failure(ActivityFailure(.cancelled, "cancelled", script: script)), retire: true)
        }
        return Execution(
            result: .failure(ActivityFailure(.sandboxCrashed, "the sandbox helper died (\(exitDescription))", script: script)), retire: true)
    }

    private func misbehaved(_ what: String) -> Execution {
        kill(forCancel: false)
        reap()
        return Execution(result: .failure(ActivityFailure(.sandboxViolation, "the sandbox helper \(what)", retryable: false)), retire: true)
    }

    /// Makes a script's request on the engine's side, until the execution's deadline or its
    /// cancellation (the helper's own wait then ends with the answer `interrupted`).
    private func perform(_ request: HTTPCall, through http: any HTTPCalling, deadline: UInt64) -> Result<HTTPCallResponse, ActivityFailure> {
        let outcome = Mutex<Result<HTTPCallResponse, ActivityFailure>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = Task.detached {
            let result: Result<HTTPCallResponse, ActivityFailure>
            do throws(ActivityFailure) { result = .success(try await http.call(request)) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        while done.wait(timeout: .now() + Self.requestPoll) == .timedOut {
            if mf_iso_now_ns() >= deadline || state.withLock({ $0.killedForCancel }) {
                task.cancel()
                done.wait()
                return .failure(ActivityFailure(.timeout, "interrupted"))
            }
        }
        return outcome.withLock { $0 } ?? .failure(ActivityFailure(.timeout, "interrupted"))
    }

    /// How often the engine, making a script's request, checks its deadline and cancellation.
    private static let requestPoll: DispatchTimeInterval = .milliseconds(5)

    /// Test-only (debug builds): asks the helper to make a forbidden call; what came of it.
    func probe(_ which: String) -> Execution {
        channel.writer.begin(.probe)
        channel.writer.string(which)
        guard channel.send() else { return crashed() }
        switch channel.receive(deadline: mf_iso_now_ns() &+ 10_000_000_000) {
        case .frame(.failed, let payload):
            var reader = FrameReader(payload, maxDepth: 1)
            let failure = (try? reader.failure()) ?? ActivityFailure(.activityError, "malformed")
            return Execution(result: .failure(failure), retire: false)
        default:
            return crashed()
        }
    }
}

/// The engine's one thread that starts helpers; it never ends (see `HelperProcess.start`).
private final class HelperSpawner: Sendable {
    static let shared = HelperSpawner()

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let wake = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                wake.wait()
                let job = jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                job?()
            }
        }
        thread.name = "moonflow-helper-spawner"
        thread.start()
    }

    /// Runs `body` on the spawner thread and waits for it.
    func perform<T: Sendable>(_ body: @escaping @Sendable () throws(ActivityFailure) -> T) throws(ActivityFailure) -> T {
        let result = Mutex<Result<T, ActivityFailure>?>(nil)
        let done = DispatchSemaphore(value: 0)
        submit {
            let outcome: Result<T, ActivityFailure>
            do throws(ActivityFailure) { outcome = .success(try body()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// Runs `job` on the spawner thread, after the jobs before it, without waiting.
    func submit(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        wake.signal()
    }
}
