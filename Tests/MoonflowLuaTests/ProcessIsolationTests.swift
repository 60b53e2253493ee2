import Foundation
import MoonflowLua
import MoonflowModel
import OrderedCollections
import Synchronization
import Testing

/// The second wall (docs/sandbox.md): code actions in sandbox helper processes — the real
/// `moonflow sandbox-helper` beside the test bundle, real signals, real seccomp.
@Suite struct ProcessIsolationTests {
    private static func runner(_ settings: ProcessScriptRunner.Settings = .init(helpers: 1, executable: helperExecutable, testLedger: nil))
        -> IsolatingRunner
    {
        IsolatingRunner(inProcess: LuaRunner(threads: 1), helpers: settings)
    }

    private static func settings(
        maxExecutions: Int = 10_000, memoryMark: UInt64 = 512 << 20, testLedger: LuaTestLedger? = nil, spare: Bool = true
    ) -> ProcessScriptRunner.Settings {
        .init(
            helpers: 1, executable: helperExecutable, maxExecutions: maxExecutions, memoryMark: memoryMark, testLedger: testLedger, spare: spare)
    }

    /// Waits (at most 30 s, a backstop) until the runner's spare has started.
    private static func awaitSpare(_ runner: IsolatingRunner) async throws {
        for _ in 0..<6_000 where !runner.process.hasSpare { try await Task.sleep(for: .milliseconds(5)) }
    }

    private static func invocation(
        _ source: String, isolation: ScriptIsolation = .process, limits: ScriptLimits = attackLimits,
        logSink: (@Sendable (ScriptLogEntry) -> Void)? = nil, http: (any HTTPCalling)? = nil
    ) -> ScriptInvocation {
        var limits = limits
        limits.isolation = isolation
        return ScriptInvocation(
            chunk: ScriptChunk(source: source, name: "isolated.lua"), input: ["n": 41], context: ["count": 1],
            steps: ["fetch": ["output": ["n": 1], "status": "completed"]],
            activity: ["name": "act", "attempt": 1, "idempotency_key": "k-1", "run": ["id": "r1", "workflow": "wf", "version": 1]],
            limits: limits, logSink: logSink, http: http)
    }

    private static func outcome(_ runner: IsolatingRunner, _ invocation: ScriptInvocation) async -> Result<ScriptOutcome, ActivityFailure> {
        do {
            return .success(try await runner.run(invocation))
        } catch {
            return .failure(error)
        }
    }

    /// Resident set of this (the engine's) process, from /proc.
    private static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Calls `body` once, when the script's first log entry reaches the engine (the script runs).
    private final class OnFirstLog: Sendable {
        private let fired = Mutex(false)
        private let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        var sink: @Sendable (ScriptLogEntry) -> Void {
            { [self] _ in
                if fired.withLock({ fired in defer { fired = true }; return !fired }) { body() }
            }
        }
    }

    // MARK: Same answers

    /// Every built-in the script can call gives the same answer in both modes; the time built-ins
    /// are compared by shape (the clock moves).
    @Test func everyBuiltInAnswersTheSameInBothModes() async throws {
        let source = """
            log.info("hello", {n = input.n})
            log.warn("careful")
            emit("order.seen", {id = 7})
            workflow.count = workflow.count + 1
            workflow.note = "set"
            local parsed = json.decode('{"a":[1,2,{"b":true}]}')
            local ok, err = pcall(fail, "PaymentDeclined", "no funds", {code = 51})
            return {
              n = input.n + 1,
              step = steps.fetch.output.n,
              act = activity.name .. ":" .. activity.attempt,
              json = json.encode({x = 1, y = {"a", "b"}}),
              decoded = parsed.a[3].b,
              sha = hash.sha256("abc"),
              mac = hmac.sha256("key", "message"),
              b64 = base64.encode("hello"),
              unb64 = base64.decode("aGVsbG8="),
              hex = hex.encode("\\1\\255"),
              unhex = hex.decode("4142"),
              parsed_time = time.parse("2024-01-02T03:04:05Z"),
              now_shape = type(time.now()) == "string" and #time.now() == 24,
              unix_shape = math.type(time.unix()) == "integer",
              uuid_shape = #uuid() == 36,
              err_type = err.type, err_message = err.message, err_code = err.details.code,
              str = string.format("%5.2f|%d|%s", 3.14159, 42, "x"),
              pattern = ("key=value"):match("(%w+)=(%w+)"),
            }
            """
        let runner = Self.runner()
        let local = try await runner.run(Self.invocation(source, isolation: .inProcess))
        let isolated = try await runner.run(Self.invocation(source, isolation: .process))
        #expect(isolated == local)
        #expect(isolated.output["n"] == 42)
        #expect(isolated.events == [EmittedEvent(type: "order.seen", payload: ["id": 7])])
        #expect(isolated.logs.map(\.message) == ["hello", "careful"])
        #expect(isolated.contextWrites == ["count": 2, "note": "set"])
    }

    /// A script's failure crosses the socket whole: type, message, retryable, details, line.
    @Test func aFailureKeepsEveryFieldInBothModes() async throws {
        let source = "local x = 1\nerror({type = 'OutOfStock', message = 'none left', retryable = false, details = {sku = 'A1'}})"
        let runner = Self.runner()
        let local = await Self.outcome(runner, Self.invocation(source, isolation: .inProcess)).failure
        let isolated = await Self.outcome(runner, Self.invocation(source, isolation: .process)).failure
        #expect(isolated != nil)
        #expect(isolated == local)
        #expect(isolated?.type == "OutOfStock" && isolated?.retryable == false && isolated?.line == 2)
    }

    /// Each limit keeps its error type in a helper.
    @Test(arguments: [
        ("while true do end", ScriptLimits(memory: 16 << 20, instructions: 1_000_000, timeout: .seconds(60)), ErrorType.luaInstructionLimit),
        ("local s = 'x' while true do s = s .. s end", ScriptLimits(memory: 8 << 20, timeout: .seconds(60)), .luaMemoryLimit),
        ("while true do end", ScriptLimits(instructions: 1 << 40, timeout: .milliseconds(300)), .timeout),
        ("return (('a'):rep(5000)):find('.-.-.-b')", ScriptLimits(timeout: .seconds(60)), .luaPatternBudget),
        ("return ('x'):rep(3000)", ScriptLimits(timeout: .seconds(60), outputSize: 1000), .sandboxViolation),
    ])
    func eachLimitKeepsItsErrorType(_ source: String, _ limits: ScriptLimits, _ type: ErrorType) async throws {
        let runner = Self.runner()
        for isolation in ScriptIsolation.allCases {
            let failure = await Self.outcome(runner, Self.invocation(source, isolation: isolation, limits: limits)).failure
            #expect(failure?.type == type, "\(isolation): \(String(describing: failure))")
        }
    }

    /// `http.request` is made by the engine, with the engine's connector; the answer and the
    /// typed failure come back as in process.
    @Test func httpRequestsAreMadeByTheEngine() async throws {
        let http = RecordingHTTP()
        let source = """
            local ok = http.request{connection = "svc", method = "POST", path = "/orders", json = {n = input.n}}
            local good, err = pcall(http.request, {connection = "down"})
            return {status = ok.status, echoed = ok.json.got.n, header = ok.headers["x-a"], err = err.type}
            """
        let runner = Self.runner()
        let local = try await runner.run(Self.invocation(source, isolation: .inProcess, http: http))
        let isolated = try await runner.run(Self.invocation(source, isolation: .process, http: http))
        #expect(isolated == local)
        #expect(isolated.output == ["status": 201, "echoed": 41, "header": "b", "err": "HttpConnectError"])
        let keys = http.requests.map(\.idempotencyKey)
        #expect(keys == ["k-1:1", "k-1:2", "k-1:1", "k-1:2"])
        #expect(http.requests.allSatisfy { $0.connection == "svc" || $0.connection == "down" })
    }

    /// `log.*` entries reach the engine's sink as the script makes them, before it ends.
    @Test func logEntriesReachTheEngineAsTheyAreMade() async throws {
        let seen = Mutex<[String]>([])
        let source = "log.info('one') log.error('two', {k = 1}) return 1"
        let outcome = try await Self.runner().run(Self.invocation(source, logSink: { entry in seen.withLock { $0.append(entry.level + ":" + entry.message) } }))
        #expect(seen.withLock { $0 } == ["info:one", "error:two"])
        #expect(outcome.logs.map(\.fields) == [[:], ["k": 1]])
    }

    /// `test.ledger` in a helper (which may open no file) is appended by the engine.
    @Test func theTestLedgerIsWrittenByTheEngine() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-iso-ledger-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let runner = IsolatingRunner(inProcess: LuaRunner(threads: 1, testLedger: nil), helpers: Self.settings(testLedger: LuaTestLedger(path: path)))
        _ = try await runner.run(Self.invocation("test.ledger('began') return 1"))
        let line = try String(contentsOfFile: path, encoding: .utf8)
        let value = try Value(json: line.trimmingCharacters(in: .newlines))
        #expect(value["tag"] == "began" && value["activity"] == "act" && value["run"] == "r1")
    }

    // MARK: Containment

    /// kill -9 of the helper during an execution fails only that execution, with `SandboxCrashed`;
    /// the next one runs on a replacement.
    @Test func aHelperKilledMidScriptFailsTheAttemptWithSandboxCrashed() async throws {
        let runner = Self.runner()
        try runner.process.prestart(1)
        let pid = try #require(runner.process.idleHelpers.first)
        let killer = OnFirstLog { _ = kill(pid, SIGKILL) }
        let limits = ScriptLimits(instructions: 1 << 40, timeout: .seconds(60))
        let failure = await Self.outcome(runner, Self.invocation("log.info('spinning') while true do end", limits: limits, logSink: killer.sink)).failure
        #expect(failure?.type == .sandboxCrashed)
        #expect(failure?.message.contains("SIGKILL") == true, "\(String(describing: failure))")
        let next = try await runner.run(Self.invocation("return input.n + 1"))
        #expect(next.output == 42)
        #expect(runner.process.counts.replaced == 1)
        #expect(!runner.process.idleHelpers.contains(pid))
    }

    /// A helper that stops answering (here: stopped by SIGSTOP, so its own deadline check cannot
    /// run) is killed by the watchdog at its deadline + 100 ms.
    @Test func theWatchdogKillsAHelperPastItsDeadline() async throws {
        let runner = Self.runner()
        try runner.process.prestart(1)
        let pid = try #require(runner.process.idleHelpers.first)
        let stopper = OnFirstLog { _ = kill(pid, SIGSTOP) }
        let limits = ScriptLimits(instructions: 1 << 40, timeout: .milliseconds(500))
        let failure = await Self.outcome(runner, Self.invocation("log.info('spinning') while true do end", limits: limits, logSink: stopper.sink)).failure
        #expect(failure?.type == .sandboxCrashed)
        #expect(failure?.message.contains("watchdog") == true, "\(String(describing: failure))")
        #expect(try await runner.run(Self.invocation("return 1")).output == 1)
    }

    /// Cancelling the calling task kills the helper: `Cancelled`, and a replacement.
    @Test func cancellationKillsTheHelper() async throws {
        let runner = Self.runner()
        let started = Mutex(false)
        let limits = ScriptLimits(instructions: 1 << 40, timeout: .seconds(60))
        let signal = OnFirstLog { started.withLock { $0 = true } }
        let task = Task { await Self.outcome(runner, Self.invocation("log.info('spinning') while true do end", limits: limits, logSink: signal.sink)) }
        for _ in 0..<4_000 where !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(started.withLock { $0 })
        task.cancel()
        #expect(await task.value.failure?.type == .cancelled)
        #expect(try await runner.run(Self.invocation("return 2")).output == 2)
    }

    /// Helpers are replaced after a tripped limit, after their execution count and above their memory mark.
    @Test func helpersAreRecycled() async throws {
        let counted = Self.runner(Self.settings(maxExecutions: 3))
        for _ in 0..<7 { _ = try await counted.run(Self.invocation("return 1")) }
        #expect(counted.process.counts.replaced == 2)

        let tripped = Self.runner()
        let limits = ScriptLimits(instructions: 100_000, timeout: .seconds(60))
        #expect(await Self.outcome(tripped, Self.invocation("while true do end", limits: limits)).failure?.type == .luaInstructionLimit)
        #expect(tripped.process.counts.replaced == 1)
        #expect(try await tripped.run(Self.invocation("return 1")).output == 1)

        let marked = Self.runner(Self.settings(memoryMark: 1 << 20))
        _ = try await marked.run(Self.invocation("return 1"))
        #expect(marked.process.counts.replaced == 1)
    }

    /// A spent helper is replaced by the spare that waits started and hardened; another spare
    /// starts behind it. Without a spare the replacement is started on the spot.
    @Test func aSpentHelperIsReplacedByTheWaitingSpare() async throws {
        let runner = Self.runner()
        try runner.process.prestart(1)
        try await Self.awaitSpare(runner)
        #expect(runner.process.hasSpare)
        #expect(runner.process.counts.started == 2)
        let old = try #require(runner.process.idleHelpers.first)
        _ = try runner.process.replaceIdleHelper()
        let new = try #require(runner.process.idleHelpers.first)
        #expect(new != old && runner.process.idleHelpers.count == 1)
        #expect(try await runner.run(Self.invocation("return input.n + 1")).output == 42)
        try await Self.awaitSpare(runner)
        #expect(runner.process.hasSpare)
        #expect(runner.process.counts.started == 3 && runner.process.counts.replaced == 1)

        let bare = Self.runner(Self.settings(spare: false))
        try bare.process.prestart(1)
        let first = try #require(bare.process.idleHelpers.first)
        _ = try bare.process.replaceIdleHelper()
        #expect(bare.process.idleHelpers.count == 1 && bare.process.idleHelpers.first != first)
        #expect(!bare.process.hasSpare && bare.process.counts.started == 2)
        #expect(try await bare.run(Self.invocation("return 1")).output == 1)
    }

    /// A script allocating 150 MB under a 200 MB limit: the helper holds it, the engine's RSS stays
    /// flat. It measures this process's RSS: alone, in a test process of its own (`make test`).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MOONFLOW_MEMORY_TESTS"] == "1",
        "measures this process's RSS: run alone with MOONFLOW_MEMORY_TESTS=1 (make test does)"))
    func theEnginesMemoryDoesNotGrowWithAScriptsAllocations() async throws {
        let runner = Self.runner()
        try runner.process.prestart(1)
        _ = try await runner.run(Self.invocation("return 1"))
        let before = Self.residentBytes()
        let source = "local t = {} for i = 1, 150 do t[i] = ('x'):rep(1 << 20) .. i end return #t"
        let limits = ScriptLimits(memory: 200 << 20, instructions: 1 << 40, timeout: .seconds(60))
        let outcome = try await runner.run(Self.invocation(source, limits: limits))
        #expect(outcome.output == 150)
        let grown = Self.residentBytes() - before
        #expect(grown < 20 << 20, "the engine grew by \(grown >> 20) MB")
    }

    /// The seccomp filter is on: each forbidden call kills the helper (SIGSYS); files and sockets
    /// are refused with EPERM.
    @Test(arguments: ["execve", "fork", "ptrace", "exec_mmap"])
    func seccompKillsAHelperMakingAForbiddenCall(_ call: String) async throws {
        let runner = ProcessScriptRunner(settings: Self.settings())
        let failure = try runner.probe(call)
        #expect(failure.type == .sandboxCrashed, "\(call): \(failure)")
        #expect(failure.message.contains("SIGSYS"), "\(call): \(failure)")
    }

    @Test(arguments: ["open", "socket"])
    func seccompRefusesFilesAndSocketsWithEPERM(_ call: String) async throws {
        let runner = ProcessScriptRunner(settings: Self.settings())
        let failure = try runner.probe(call)
        #expect(failure.type == .activityError)
        #expect(failure.message == "\(call) returned -\(EPERM)")
        // The helper lives on.
        #expect(runner.counts.replaced == 0)
    }
}

/// An `HTTPCalling` that records requests and answers from the connection's name.
private final class RecordingHTTP: HTTPCalling, Sendable {
    private let recorded = Mutex<[HTTPCall]>([])
    var requests: [HTTPCall] { recorded.withLock { $0 } }

    func call(_ request: HTTPCall) async throws(ActivityFailure) -> HTTPCallResponse {
        recorded.withLock { $0.append(request) }
        guard request.connection == "svc" else { throw ActivityFailure(.httpConnectError, "connection refused") }
        var got: Value = .null
        if case .json(let json) = request.body { got = json }
        return HTTPCallResponse(status: 201, headers: ["x-a": "b"], body: .json(["got": got]))
    }
}
