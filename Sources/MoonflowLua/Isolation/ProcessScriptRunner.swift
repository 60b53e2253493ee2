internal import CIsolation
import Dispatch
import Foundation
package import MoonflowModel
import Synchronization

/// Code actions in sandbox helpers (docs/sandbox.md, "The second wall"): a pool of long-lived
/// helper processes of the engine's own binary, each running one execution at a time in its own
/// `LuaSandbox` behind OS limits and a seccomp filter. The same failures as in process, plus
/// `SandboxCrashed` when a helper dies under an execution (it is then replaced).
///
/// The caller's thread waits on the helper's socket: in place when it is a thread of a runner's
/// pool (a run's task prefers one, `LuaRunner.taskExecutor`), else on a thread of this runner's
/// own, so no thread of Swift's cooperative pool ever blocks. Helpers start on first use.
package final class ProcessScriptRunner: Sendable {
    package struct Settings: Sendable {
        /// Helpers at most, each running one execution at a time.
        package var helpers: Int
        /// The binary the helpers run (`moonflow sandbox-helper`): the engine's own by default.
        package var executable: String
        /// Executions after which a helper is replaced.
        package var maxExecutions: Int
        /// A helper whose peak resident set passes this many bytes is replaced after its execution.
        package var memoryMark: UInt64
        /// Address space a helper may map beyond what it maps when it hardens (`RLIMIT_AS`).
        package var addressSpace: UInt64
        /// How long past its deadline a helper may run before the watchdog kills it.
        package var watchdogGrace: Duration
        /// Wall time of a code action whose limits name none.
        package var defaultTimeout: Duration
        /// `test.ledger` (crash tests): the helper forwards each call to the engine's ledger.
        package var testLedger: LuaTestLedger?
        /// Whether a started, hardened helper waits beside the pool, so a helper that must be
        /// replaced is replaced by a hand-over rather than a start.
        package var spare: Bool

        package init(
            helpers: Int = ProcessInfo.processInfo.activeProcessorCount, executable: String = ProcessScriptRunner.ownExecutable,
            maxExecutions: Int = 10_000, memoryMark: UInt64 = 512 << 20, addressSpace: UInt64 = 4 << 30,
            watchdogGrace: Duration = .milliseconds(100), defaultTimeout: Duration = LuaRunner.defaultTimeout,
            testLedger: LuaTestLedger? = LuaTestLedger.fromEnvironment(), spare: Bool = true
        ) {
            self.spare = spare
            self.helpers = max(1, helpers)
            self.executable = executable
            self.maxExecutions = max(1, maxExecutions)
            self.memoryMark = memoryMark
            self.addressSpace = addressSpace
            self.watchdogGrace = watchdogGrace
            self.defaultTimeout = defaultTimeout
            self.testLedger = testLedger
        }
    }

    /// The running binary (helpers are started from it, never forked from the engine).
    package static var ownExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    package let settings: Settings
    private let launch: HelperProcess.Launch
    private let pool: Mutex<Pool>
    /// One permit per helper: an execution holds one from taking a helper to giving it back.
    private let permits: DispatchSemaphore
    /// Threads that wait for callers on Swift's cooperative pool.
    private let waiters: LuaThreadPool

    private struct Pool {
        var idle: [HelperProcess] = []
        /// The warm spare (`Settings.spare`), and whether one is being started.
        var spare: HelperProcess?
        var spareStarting = false
        var replaced = 0
        var started = 0
    }

    package init(settings: Settings = Settings()) {
        self.settings = settings
        launch = HelperProcess.Launch(
            executable: settings.executable, addressSpace: settings.addressSpace, testLedger: settings.testLedger != nil,
            maxFrame: 1 << 30)
        pool = Mutex(Pool())
        permits = DispatchSemaphore(value: settings.helpers)
        waiters = LuaThreadPool(threads: settings.helpers, stackSize: 1 << 20, testLedger: nil, name: "moonflow-helper-wait")
    }

    deinit {
        waiters.shutdown()
        let helpers = pool.withLock { pool in
            defer {
                pool.idle = []
                pool.spare = nil
            }
            return pool.idle + (pool.spare.map { [$0] } ?? [])
        }
        for helper in helpers { helper.retire() }
    }

    /// Starts helpers until `count` are idle (benchmarks, and a server that wants them warm), and
    /// the spare.
    package func prestart(_ count: Int) throws(ActivityFailure) {
        for _ in 0..<min(count, settings.helpers) {
            let helper = try startHelper()
            pool.withLock { $0.idle.append(helper) }
        }
        primeSpare()
    }

    /// Whether the warm spare is started and waiting.
    package var hasSpare: Bool { pool.withLock { $0.spare != nil } }

    /// The pids of the idle helpers (tests kill them).
    package var idleHelpers: [Int32] { pool.withLock { $0.idle.map(\.pid) } }

    /// Helpers started so far, and replaced so far (after a crash, a tripped limit, their
    /// execution count or their memory mark).
    package var counts: (started: Int, replaced: Int) { pool.withLock { ($0.started, $0.replaced) } }

    package func run(_ invocation: ScriptInvocation) async throws(ActivityFailure) -> ScriptOutcome {
        var invocation = invocation
        let timeout = invocation.limits.timeout ?? settings.defaultTimeout
        invocation.limits.timeout = timeout
        let (seconds, attoseconds) = timeout.components
        let deadline = mf_iso_now_ns() &+ UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds / 1_000_000_000))
        let cancel = CancelSwitch()
        let stop = invocation.stop
        if let stop, stop.install({ cancel.fire() }) { cancel.fire() }
        defer { stop?.uninstall() }
        let request = invocation
        let result: Result<ScriptOutcome, ActivityFailure> = await withTaskCancellationHandler {
            if let context = LuaThreadPool.current {
                // A dedicated thread already (a run's lane): wait here, and let an idle thread take the lane's other work.
                context.core.offerWork(from: context.index)
                return self.execute(request, deadline: deadline, cancel: cancel)
            }
            return await withCheckedContinuation { continuation in
                waiters.submit { _ in continuation.resume(returning: self.execute(request, deadline: deadline, cancel: cancel)) }
            }
        } onCancel: {
            cancel.fire()
        }
        return try result.get()
    }

    /// One execution on the calling thread, which blocks until it ends.
    private func execute(_ invocation: ScriptInvocation, deadline: UInt64, cancel: CancelSwitch) -> Result<ScriptOutcome, ActivityFailure> {
        let script = invocation.chunk.name
        if cancel.isFired { return .failure(ActivityFailure(.cancelled, "cancelled", script: script)) }
        guard permits.wait(timeout: .now() + .nanoseconds(Int(min(Self.remaining(until: deadline), UInt64(Int.max))))) == .success else {
            return .failure(ActivityFailure(.timeout, "script exceeded its timeout of \(invocation.limits.timeout ?? .zero) waiting for a sandbox helper", script: script))
        }
        defer { permits.signal() }
        let helper: HelperProcess
        do throws(ActivityFailure) {
            helper = try takeHelper()
        } catch {
            return .failure(error)
        }
        guard cancel.attach(helper) else {
            giveBack(helper, retire: false)
            return .failure(ActivityFailure(.cancelled, "cancelled", script: script))
        }
        let grace = UInt64(settings.watchdogGrace.components.seconds) * 1_000_000_000
            + UInt64(settings.watchdogGrace.components.attoseconds / 1_000_000_000)
        let execution = helper.execute(invocation, deadline: deadline, grace: grace, ledger: settings.testLedger)
        cancel.detach()
        giveBack(helper, retire: execution.retire)
        return execution.result
    }

    private static func remaining(until deadline: UInt64) -> UInt64 {
        let now = mf_iso_now_ns()
        return deadline > now ? deadline - now : 0
    }

    private func takeHelper() throws(ActivityFailure) -> HelperProcess {
        if let helper = pool.withLock({ $0.idle.popLast() }) { return helper }
        return try replacement()
    }

    /// The spare if one waits (and another is started behind it), else a helper started now.
    private func replacement() throws(ActivityFailure) -> HelperProcess {
        let spare = pool.withLock { pool in
            defer { pool.spare = nil }
            return pool.spare
        }
        // Started behind the helper it needs, never before it (one thread starts them in turn).
        defer { primeSpare() }
        if let spare { return spare }
        return try startHelper()
    }

    /// Starts the spare in the background unless it waits or starts already.
    private func primeSpare() {
        guard settings.spare else { return }
        let start = pool.withLock { pool in
            defer { pool.spareStarting = true }
            return pool.spare == nil && !pool.spareStarting
        }
        guard start else { return }
        HelperProcess.startInBackground(launch) { [weak self] helper in
            guard let self else {
                helper?.retire()
                return
            }
            let surplus = self.pool.withLock { pool -> HelperProcess? in
                pool.spareStarting = false
                guard let helper else { return nil }
                pool.started += 1
                if pool.spare != nil { return helper }
                pool.spare = helper
                return nil
            }
            surplus?.retire()
        }
    }

    private func startHelper() throws(ActivityFailure) -> HelperProcess {
        let helper = try HelperProcess.start(launch)
        pool.withLock { $0.started += 1 }
        return helper
    }

    /// Keeps the helper for the next execution, or replaces it: after a crash or a tripped limit,
    /// after `maxExecutions`, above `memoryMark`. The replacement is the spare, handed over at once
    /// (a new spare starts in the background), or without one a helper started here, so the next
    /// execution finds it ready; the old one is killed now and reaped in the background.
    private func giveBack(_ helper: HelperProcess, retire: Bool) {
        let spent = retire || helper.isGone || helper.executions >= settings.maxExecutions || helper.peakRSS > settings.memoryMark
        guard spent else {
            pool.withLock { $0.idle.append(helper) }
            return
        }
        // The spare first: the next execution may take it before anything else is done.
        let handedOver = pool.withLock { pool in
            pool.replaced += 1
            guard let spare = pool.spare else { return false }
            pool.spare = nil
            pool.idle.append(spare)
            return true
        }
        helper.retireInBackground()
        if !handedOver, let fresh = try? startHelper() { pool.withLock { $0.idle.append(fresh) } }
        primeSpare()
    }

    /// Replaces an idle helper as a spent one is replaced (`giveBack`), and says how long it took
    /// from the need to a helper ready to run (`moonflow bench --scenario sandbox`).
    package func replaceIdleHelper() throws(ActivityFailure) -> Duration {
        guard let helper = pool.withLock({ $0.idle.popLast() }) else { throw ActivityFailure(.sandboxCrashed, "no idle helper to replace") }
        let clock = ContinuousClock()
        let start = clock.now
        giveBack(helper, retire: true)
        let took = start.duration(to: clock.now)
        guard !idleHelpers.isEmpty else { throw ActivityFailure(.sandboxCrashed, "the replacement did not start") }
        return took
    }

    /// Test-only (debug builds): has a helper make the forbidden call `which`; the failure
    /// `SandboxCrashed` says the filter killed it, an `ActivityError` what the call returned.
    package func probe(_ which: String) throws(ActivityFailure) -> ActivityFailure {
        permits.wait()
        defer { permits.signal() }
        let helper = try takeHelper()
        let execution = helper.probe(which)
        giveBack(helper, retire: execution.retire)
        return execution.result.failure ?? ActivityFailure(.activityError, "no answer")
    }
}

/// The cancellation of one execution: kills the helper running it (a helper cannot be
/// interrupted in the middle of a script otherwise), or stops it before it starts.
private final class CancelSwitch: Sendable {
    private struct State {
        var fired = false
        var helper: HelperProcess?
    }

    private let state = Mutex(State())

    var isFired: Bool { state.withLock { $0.fired } }

    func fire() {
        let helper = state.withLock { state in
            state.fired = true
            return state.helper
        }
        helper?.kill(forCancel: true)
    }

    /// Records the helper an execution runs on; false when cancelled already.
    func attach(_ helper: HelperProcess) -> Bool {
        state.withLock { state in
            guard !state.fired else { return false }
            state.helper = helper
            return true
        }
    }

    func detach() { state.withLock { $0.helper = nil } }
}

extension Result {
    fileprivate var failure: Failure? { if case .failure(let failure) = self { failure } else { nil } }
}
