import MoonflowLua
import MoonflowModel
import Synchronization
import Testing

/// The sandbox records what its non-deterministic built-ins answer (`time.now`, `time.unix`,
/// `uuid`, the seeds of `math.random`, `http.request`), and a replay given that recording
/// computes exactly what the recorded execution computed, calling no service.
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

    func invocation(_ http: (any HTTPCalling)?, sink: (@Sendable (ScriptRecording) -> Void)?, replay: ScriptRecording?) -> ScriptInvocation {
        var invocation = ScriptInvocation(
            chunk: ScriptChunk(source: Self.source, name: "replay.lua"),
            activity: ["name": "act", "attempt": 1, "idempotency_key": "k-1", "run": ["id": "r1", "workflow": "wf", "version": 1]],
            limits: attackLimits, http: http)
        invocation.recordingSink = sink
        invocation.replay = replay
        return invocation
    }

    @Test func aReplayOfTheRecordingComputesTheSameOutcome() async throws {
        let kept = Mutex<ScriptRecording?>(nil)
        let service = CountingService()
        let recorded = try await sharedRunner.run(invocation(service, sink: { recording in kept.withLock { $0 = recording } }, replay: nil))
        let recording = try #require(kept.withLock { $0 })
        #expect(recording.now.count == 1 && recording.unix.count == 1 && recording.uuids.count == 1)
        #expect(recording.seeds.count == 1)
        #expect(recording.http.count == 2)
        #expect(recording.http[1]["error"]?["type"] == "HttpError")
        #expect(recorded.output["n"] == 1 && recorded.output["err"] == "HttpError")

        // Through JSON, as the journal keeps it.
        let stored = try #require(ScriptRecording(value: try Value(json: recording.toValue().jsonString())))
        #expect(stored == recording)
        let replayed = try await sharedRunner.run(invocation(nil, sink: nil, replay: stored))
        #expect(replayed.output == recorded.output)
        #expect(replayed.contextWrites == recorded.contextWrites)
        #expect(service.calls.withLock { $0 } == 2)

        // Without the recording the same script computes something else.
        let fresh = try await sharedRunner.run(invocation(service, sink: nil, replay: nil))
        #expect(fresh.output != recorded.output)
    }

    @Test func aScriptThatCallsMoreThanWasRecordedFails() async throws {
        var recording = ScriptRecording()
        recording.uuids = ["00000000-0000-4000-8000-000000000000"]
        var invocation = ScriptInvocation(chunk: ScriptChunk(source: "return {uuid(), uuid()}", name: "more.lua"), limits: attackLimits)
        invocation.replay = recording
        await #expect(throws: ActivityFailure.self) { try await sharedRunner.run(invocation) }
        invocation.chunk = ScriptChunk(source: "return uuid()", name: "one.lua")
        #expect(try await sharedRunner.run(invocation).output == "00000000-0000-4000-8000-000000000000")
    }

    @Test func anExecutionThatUsesNoneOfThemRecordsNothing() async throws {
        let told = Mutex(false)
        var invocation = ScriptInvocation(chunk: ScriptChunk(source: "return 1 + 1", name: "plain.lua"), limits: attackLimits)
        invocation.recordingSink = { _ in told.withLock { $0 = true } }
        #expect(try await sharedRunner.run(invocation).output == 2)
        #expect(told.withLock { $0 } == false)
    }
}
