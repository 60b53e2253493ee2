import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import Synchronization
import Testing

/// `call: http` against a real service on a loopback port (docs/integrations.md).
@Suite struct HTTPActivityTests {
    static func config(_ stub: ServiceStub, extra: String = "") -> String {
        """
        connections:
          crm:
            url: \(stub.base)/api
            headers: {X-Client: moonflow}
            allow_private_network: true
        \(extra)
        """
    }

    static func workflow(_ with: String, retry: String = "{max_attempts: 3, initial: 10ms}") -> String {
        """
        workflow: lead
        activities:
          - name: create
            call: http
            with: \(with)
            retry: \(retry)
        """
    }

    @Test func aJSONRequestAndItsAnswerMakeTheOutput() async throws {
        let stub = try await ServiceStub.start { request in
            .json(#"{"id": 7, "echo": \#(request.text)}"#, status: 201, headers: [("X-Request", request.path)])
        }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(
            config: Self.config(stub),
            workflows: ["lead": Self.workflow(#"{connection: crm, method: POST, path: /leads, query: {source: "web+ads"}, json: "${ input }"}"#)])
        let report = try await project.run("lead", input: ["name": "Ada"], on: project.runtime())
        #expect(report.status == .completed)
        let output = try #require(report.activity("create")?.output)
        #expect(output["status"] == 201)
        #expect(output["json"] == ["id": 7, "echo": ["name": "Ada"]])
        #expect(output["headers"]?["x-request"] == "/api/leads")
        let request = try #require(stub.requests.first)
        #expect(request.method == "POST" && request.uri == "/api/leads?source=web%2Bads")
        #expect(request.header("Content-Type") == "application/json" && request.header("X-Client") == "moonflow")
        #expect(request.header("Idempotency-Key") == "\(report.runID):create")
    }

    @Test func aBodyThatIsNotJSONIsText() async throws {
        let stub = try await ServiceStub.start { _ in .text("plain words") }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(
            config: Self.config(stub), workflows: ["lead": Self.workflow(#"{connection: crm, path: status, body: "ping"}"#)])
        let report = try await project.run("lead", on: project.runtime())
        #expect(report.activity("create")?.output?["body"] == "plain words")
        #expect(stub.requests.first?.text == "ping" && stub.requests.first?.method == "GET")
    }

    @Test func a4xxIsAnHttpErrorNotRetriedUnlessRetryOnNamesIt() async throws {
        let stub = try await ServiceStub.start { _ in .json(#"{"error": "no such lead"}"#, status: 404) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(
            config: Self.config(stub),
            workflows: [
                "lead": Self.workflow("{connection: crm, path: /leads/9}"),
                "insistent": Self.workflow("{connection: crm, path: /leads/9}", retry: "{max_attempts: 2, initial: 10ms, retry_on: [HttpError]}")
                    .replacingOccurrences(of: "workflow: lead", with: "workflow: insistent"),
            ])
        let runtime = try project.runtime()
        let report = try await project.run("lead", on: runtime)
        #expect(report.status == .failed)
        let entry = try #require(report.activity("create"))
        #expect(entry.attempts == 1 && entry.error?.type == "HttpError")
        #expect(entry.error?.details == ["status": 404, "body": #"{"error":"no such lead"}"#])
        #expect(stub.requests.count == 1)
        _ = try await project.run("insistent", on: runtime)
        #expect(stub.requests.count == 3)
    }

    @Test func a5xxIsRetriedWithTheSameIdempotencyKey() async throws {
        let calls = Counter()
        let stub = try await ServiceStub.start { _ in calls.next() < 2 ? .text("busy", status: 503) : .json(#"{"ok": true}"#) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(config: Self.config(stub), workflows: ["lead": Self.workflow("{connection: crm, method: PUT, path: /x}")])
        let report = try await project.run("lead", on: project.runtime())
        #expect(report.status == .completed && report.activity("create")?.attempts == 3)
        let keys = Set(stub.requests.map { $0.header("Idempotency-Key") })
        #expect(keys == ["\(report.runID):create"])
    }

    @Test func retryAfterPostponesTheNextAttemptWhateverTheBackoff() async throws {
        let calls = Counter()
        let stub = try await ServiceStub.start { _ in
            calls.next() == 0 ? .text("slow down", status: 503, headers: [("Retry-After", "1")]) : .json("{}")
        }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(config: Self.config(stub), workflows: ["lead": Self.workflow("{connection: crm}")])
        let report = try await project.run("lead", on: project.runtime())
        #expect(report.status == .completed)
        let times = stub.requests.map(\.at)
        #expect(times.count == 2)
        #expect(times[1] - times[0] >= .seconds(1))
    }

    @Test func retryAfterIsCappedByTheConnection() async throws {
        let calls = Counter()
        let stub = try await ServiceStub.start { _ in
            calls.next() == 0 ? .text("later", status: 429, headers: [("Retry-After", "3600")]) : .json("{}")
        }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(
            config: Self.config(stub).replacingOccurrences(of: "allow_private_network: true", with: "allow_private_network: true\n    retry_after_max: 200ms"),
            workflows: ["lead": Self.workflow("{connection: crm}")])
        let report = try await project.run("lead", on: project.runtime())
        #expect(report.status == .completed)
        let times = stub.requests.map(\.at)
        #expect(times[1] - times[0] >= .milliseconds(200))
        #expect(times[1] - times[0] < .seconds(10))
    }

    @Test func aRefusedConnectionIsAnHttpConnectError() async throws {
        let stub = try await ServiceStub.start { _ in .json("{}") }
        await stub.stop()
        let project = try HTTPProject(config: Self.config(stub), workflows: ["lead": Self.workflow("{connection: crm}", retry: "{max_attempts: 2, initial: 10ms}")])
        let report = try await project.run("lead", on: project.runtime())
        let entry = try #require(report.activity("create"))
        #expect(entry.error?.type == "HttpConnectError" && entry.attempts == 2)
    }

    @Test func aSlowServiceTimesOutOnTime() async throws {
        let stub = try await ServiceStub.start { _ in ServiceStub.Response(status: 200, body: Array("{}".utf8), delay: .seconds(3)) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(
            config: Self.config(stub).replacingOccurrences(of: "allow_private_network: true", with: "allow_private_network: true\n    timeout: 500ms"),
            workflows: ["lead": Self.workflow("{connection: crm}", retry: "{max_attempts: 1}")])
        let runtime = try project.runtime()
        let report = try await project.run("lead", on: runtime)
        let entry = try #require(report.activity("create"))
        #expect(entry.error?.type == "Timeout")
        #expect(entry.error?.message == "GET / (connection 'crm') timed out after 0.5 seconds")
        #expect(TimingTests.onTime(entry.durationMs, limit: 500), "\(entry.durationMs ?? 0) ms")
        // A request's own timeout is shorter still.
        try project.write("workflows/quick.yaml", Self.workflow(#"{connection: crm, timeout: 200ms}"#, retry: "{max_attempts: 1}").replacingOccurrences(of: "workflow: lead", with: "workflow: quick"))
        let quick = try await project.run("quick", on: runtime)
        #expect(quick.activity("create")?.error?.type == "Timeout")
        #expect(TimingTests.onTime(quick.activity("create")?.durationMs, limit: 200))
    }

    @Test func anUnknownConnectionOrABadRequestFailsAtLoadOrAtOnce() async throws {
        // Written out, both are load errors at their place.
        let written = try HTTPProject(
            config: "connections: {}",
            workflows: [
                "lead": Self.workflow("{connection: erp}"),
                "bad": Self.workflow("{connection: erp, verb: GET}").replacingOccurrences(of: "workflow: lead", with: "workflow: bad"),
            ])
        let loaded = Runtime.loader(project: written.url, connections: []).loadProject()
        #expect(loaded.diagnostics.map(\.code.rawValue).sorted() == ["UnknownKey", "UnknownReference", "UnknownReference"])
        // Known only when the run renders its input, they fail the attempt at once, not retried.
        let rendered = try HTTPProject(
            config: "connections: {}",
            workflows: [
                "lead": Self.workflow(#"{connection: "${ input.service }"}"#),
                "bad": Self.workflow(#"${ input.request }"#).replacingOccurrences(of: "workflow: lead", with: "workflow: bad"),
            ])
        let runtime = try rendered.runtime()
        let report = try await rendered.run("lead", input: ["service": "erp"], on: runtime)
        #expect(report.activity("create")?.error?.message == "unknown connection 'erp' (moonflow.yaml defines none)")
        #expect(report.activity("create")?.attempts == 1)
        let bad = try await rendered.run("bad", input: ["request": ["connection": "erp", "verb": "GET"]], on: runtime)
        #expect(bad.activity("create")?.error?.message.hasPrefix("http: unknown key 'verb'") == true)
    }
}

/// Counts calls from the stub's threads.
final class Counter: Sendable {
    private let value = Mutex(0)
    /// The count before this call.
    func next() -> Int {
        value.withLock { count in
            defer { count += 1 }
            return count
        }
    }
}
