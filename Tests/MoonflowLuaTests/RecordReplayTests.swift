import MoonflowLua
import MoonflowModel
import Synchronization
import Testing

/// The sandbox records what its non-deterministic built-ins answer (`time.now`, `time.unix`,
/// `uuid`, the seeds of `math.random`, `http.request`), and a replay given that recording
/// computes exactly what the recorded execution computed, calling no service — in process and in a
/// sandbox helper alike (the helper carries the recording back and takes the replay in).
@Suite struct RecordReplayTests {
    /// Answers each request with a counter, so two real executions never agree.
    final class CountingService: HTTPCalling {
        let calls = Mutex(0)
        func call(_ request: HTTPCall) async throws(ActivityFailure) -> HTTPCallResponse {
            let n = calls.withLock { count in
                count += 1
                return count
            }
            if n == 2 { throw ActivityFailure(.httpError, "service down", retryable: true) }
            return HTTPCallResponse(status: 200, headers: ["x-n": "\(n)"], body: .json(["n": .int(Int64(n))]))
        }
    }

    static let source = """
        local first = http.request{connection = "svc", path = "/a"}
        local ok, err = pcall(http.request, {connection = "svc", path = "/b"})
        math.randomseed()
        local draws = {math.random(1, 1000000), math.random(1, 1000000)}
        workflow.id = uuid()
        return {now = time.now(), unix = time.unix(), id = workflow.id, draws = draws, n = first.json.n, err = err.type,
                float = math.random()}
        """

    static func runner(_ isolation: ScriptIsolation) -> any ScriptRunning {
        isolation == .inProcess ? sharedRunner : sharedIsolatingRunner
    }

    static func limits(_ isolation: ScriptIsolation) -> ScriptLimits {
        var limits = attackLimits
        limits.isolation = isolation
        return limits
    }

    func invocation(
        _ http: (any HTTPCalling)?, sink: (@Sendable (ScriptRecording) -> Void)?, replay: ScriptRecording?,
        isolation: ScriptIsolation = .inProcess, source: String = Self.source
    ) -> ScriptInvocation {
        var invocation = ScriptInvocation(
            chunk: ScriptChunk(source: source, name: "replay.lua"),
            activity: ["name": "act", "attempt": 1, "idempotency_key": "k-1", "run": ["id": "r1", "workflow": "wf", "version": 1]],
            limits: Self.limits(isolation), http: http)
        invocation.recordingSink = sink
        invocation.replay = replay
        return invocation
    }

    @Test(arguments: ScriptIsolation.allCases) func aReplayOfTheRecordingComputesTheSameOutcome(isolation: ScriptIsolation) async throws {
        let runner = Self.runner(isolation)
        let kept = Mutex<ScriptRecording?>(nil)
        let service = CountingService()
        let recorded = try await runner.run(
            invocation(service, sink: { recording in kept.withLock { $0 = recording } }, replay: nil, isolation: isolation))
        let recording = try #require(kept.withLock { $0 })
        #expect(recording.now.count == 1 && recording.unix.count == 1 && recording.uuids.count == 1)
        #expect(recording.seeds.count == 1)
        #expect(recording.http.count == 2)
        #expect(recording.http[1]["error"]?["type"] == "HttpError")
        #expect(recorded.output["n"] == 1 && recorded.output["err"] == "HttpError")

        // Through JSON, as the journal keeps it.
        let stored = try #require(ScriptRecording(value: try Value(json: recording.toValue().jsonString())))
        #expect(stored == recording)
        let replayed = try await runner.run(invocation(nil, sink: nil, replay: stored, isolation: isolation))
        #expect(replayed.output == recorded.output)
        #expect(replayed.contextWrites == recorded.contextWrites)
        #expect(service.calls.withLock { $0 } == 2)

        // The other mode replays the same recording to the same outcome: the answers are the same kind.
        let other: ScriptIsolation = isolation == .inProcess ? .process : .inProcess
        let across = try await Self.runner(other).run(invocation(nil, sink: nil, replay: stored, isolation: other))
        #expect(across.output == recorded.output)
        #expect(across.contextWrites == recorded.contextWrites)

        // Changed code replayed against the recording computes something else.
        let changed = Self.source.replacing("n = first.json.n", with: "n = first.json.n + 1")
        let fixed = try await runner.run(invocation(nil, sink: nil, replay: stored, isolation: isolation, source: changed))
        #expect(fixed.output["n"] == 2 && fixed.output["id"] == recorded.output["id"])

        // Without the recording the same script computes something else.
        let fresh = try await runner.run(invocation(service, sink: nil, replay: nil, isolation: isolation))
        #expect(fresh.output != recorded.output)
    }

    /// A failed execution is recorded too (a replay reproduces the failure), in both modes.
    @Test(arguments: ScriptIsolation.allCases) func aFailedExecutionIsRecorded(isolation: ScriptIsolation) async throws {
        let kept = Mutex<ScriptRecording?>(nil)
        let source = #"local id = uuid(); fail("Declined", id)"#
        let failure = await #expect(throws: ActivityFailure.self) {
            try await Self.runner(isolation).run(
                invocation(nil, sink: { recording in kept.withLock { $0 = recording } }, replay: nil, isolation: isolation, source: source))
        }
        let recording = try #require(kept.withLock { $0 })
        #expect(recording.uuids.count == 1)
        #expect(failure?.type == "Declined" && failure?.message.contains(recording.uuids[0]) == true)
        let again = await #expect(throws: ActivityFailure.self) {
            try await Self.runner(isolation).run(invocation(nil, sink: nil, replay: recording, isolation: isolation, source: source))
        }
        #expect(again?.type == failure?.type && again?.message == failure?.message)
    }

    @Test(arguments: ScriptIsolation.allCases) func aScriptThatCallsMoreThanWasRecordedFails(isolation: ScriptIsolation) async throws {
        var recording = ScriptRecording()
        recording.uuids = ["00000000-0000-4000-8000-000000000000"]
        var invocation = ScriptInvocation(
            chunk: ScriptChunk(source: "return {uuid(), uuid()}", name: "more.lua"), limits: Self.limits(isolation))
        invocation.replay = recording
        await #expect(throws: ActivityFailure.self) { try await Self.runner(isolation).run(invocation) }
        invocation.chunk = ScriptChunk(source: "return uuid()", name: "one.lua")
        #expect(try await Self.runner(isolation).run(invocation).output == "00000000-0000-4000-8000-000000000000")
    }

    @Test(arguments: ScriptIsolation.allCases) func anExecutionThatUsesNoneOfThemRecordsNothing(isolation: ScriptIsolation) async throws {
        let told = Mutex(false)
        var invocation = ScriptInvocation(chunk: ScriptChunk(source: "return 1 + 1", name: "plain.lua"), limits: Self.limits(isolation))
        invocation.recordingSink = { _ in told.withLock { $0 = true } }
        #expect(try await Self.runner(isolation).run(invocation).output == 2)
        #expect(told.withLock { $0 } == false)
    }
}
