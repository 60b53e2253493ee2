import Foundation
import Testing

/// The built `moonflow` killed (`MOONFLOW_FAILPOINTS`, docs/testing.md) around a `call: http`, then
/// `moonflow runs resume`: the request is repeated with the same `Idempotency-Key`, and a server's
/// `Retry-After` still holds after the restart (it is the stored time of the next attempt).
@Suite(.serialized, .timeLimit(.minutes(2))) struct CrashRecoveryTests {
    static let workflow = """
        workflow: lead
        activities:
          - name: create
            call: http
            with: {connection: crm, method: POST, path: /leads, json: {name: Ada}}
            retry: {max_attempts: 3, initial: 10ms}
        """

    func moonflow(_ arguments: [String], in project: HTTPProject, failpoints: String? = nil) throws -> Int32 {
        try project.moonflow(arguments, failpoints: failpoints).status
    }

    @Test func theKeyIsTheSameAfterAKillBeforeTheCompletionCommitted() async throws {
        let stub = try await ServiceStub.start { _ in .json(#"{"id": 1}"#) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(config: HTTPActivityTests.config(stub), workflows: ["lead": Self.workflow])
        #expect(try moonflow(["run", "lead", "--run-id", "r1"], in: project, failpoints: "before_commit:activity_completed:create") == 137)
        #expect(stub.requests.count == 1)
        #expect(try moonflow(["runs", "resume"], in: project) == 0)
        #expect(stub.requests.map { $0.header("Idempotency-Key") } == ["r1:create", "r1:create"])
    }

    @Test func retryAfterOutlivesAKillDuringTheWait() async throws {
        let calls = Counter()
        let stub = try await ServiceStub.start { _ in
            calls.next() == 0 ? .text("busy", status: 503, headers: [("Retry-After", "2")]) : .json("{}")
        }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(config: HTTPActivityTests.config(stub), workflows: ["lead": Self.workflow])
        #expect(try moonflow(["run", "lead", "--run-id", "r2"], in: project, failpoints: "after_commit:activity_retrying:create") == 137)
        #expect(try moonflow(["runs", "resume"], in: project) == 0)
        let requests = stub.requests
        #expect(requests.count == 2)
        #expect(requests[1].at - requests[0].at >= .seconds(2))
        #expect(Set(requests.map { $0.header("Idempotency-Key") }) == ["r2:create"])
    }
}
