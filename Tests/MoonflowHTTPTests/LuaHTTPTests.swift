import Foundation
import MoonflowModel
import Testing

/// `http.request{…}` from Lua (docs/integrations.md) against a real loopback service.
@Suite struct LuaHTTPTests {
    static func workflow(_ lua: String, extra: String = "") -> String {
        """
        workflow: lead
        activities:
          - name: create
            \(extra.isEmpty ? "" : extra + "\n    ")run: |
        \(lua.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
        """
    }

    @Test func everyStatusIsAnAnswerAndEachRequestHasItsOwnKey() async throws {
        let stub = try await ServiceStub.start { request in
            request.path.hasSuffix("/missing") ? .json(#"{"error": "gone"}"#, status: 404) : .json(#"{"seen": \#(request.text)}"#)
        }
        defer { Task { await stub.stop() } }
        let lua = """
            local missing = http.request{connection = "crm", path = "/missing"}
            local made = http.request{connection = "crm", method = "POST", path = "/leads", json = {name = input.name}, timeout = "5s"}
            return {missing = missing.status, error = missing.json.error, made = made.status, seen = made.json.seen, type = made.headers["content-type"]}
            """
        let project = try HTTPProject(config: HTTPActivityTests.config(stub), workflows: ["lead": Self.workflow(lua)])
        let report = try await project.run("lead", input: ["name": "Ada"], on: project.runtime())
        #expect(report.status == .completed)
        #expect(
            report.activity("create")?.output
                == ["missing": 404, "error": "gone", "made": 200, "seen": ["name": "Ada"], "type": "application/json"])
        #expect(stub.requests.map { $0.header("Idempotency-Key") } == ["\(report.runID):create:1", "\(report.runID):create:2"])
    }

    @Test func transportFailuresAreRaisedAsTypedErrors() async throws {
        let stub = try await ServiceStub.start { _ in .json("{}") }
        defer { Task { await stub.stop() } }
        let lua = """
            local ok, err = pcall(http.request, {connection = "crm"})
            if ok then return "reached" end
            if input.rethrow then error(err) end
            return {type = err.type, retryable = err.retryable}
            """
        // Without allow_private_network the loopback service is refused.
        let config = "connections: {crm: {url: '\(stub.base)'}}"
        let project = try HTTPProject(config: config, workflows: ["lead": Self.workflow(lua, extra: "retry: {max_attempts: 3, initial: 10ms}")])
        let runtime = try project.runtime()
        let caught = try await project.run("lead", on: runtime)
        #expect(caught.activity("create")?.output == ["type": "EgressDenied", "retryable": false])
        let raised = try await project.run("lead", input: ["rethrow": true], on: runtime)
        #expect(raised.activity("create")?.error?.type == "EgressDenied")
        #expect(raised.activity("create")?.attempts == 1)
        #expect(stub.connections == 0)
    }

    @Test func aRequestStopsWithTheAttemptsTimeout() async throws {
        let stub = try await ServiceStub.start { _ in ServiceStub.Response(status: 200, body: Array("{}".utf8), delay: .seconds(3)) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(
            config: HTTPActivityTests.config(stub),
            workflows: ["lead": Self.workflow(#"return http.request{connection = "crm"}.status"#, extra: "timeout: 300ms")])
        let report = try await project.run("lead", on: project.runtime())
        let entry = try #require(report.activity("create"))
        #expect(entry.error?.type == "Timeout")
        #expect(TimingTests.onTime(entry.durationMs, limit: 300), "\(entry.durationMs ?? 0) ms")
    }

    @Test func theScriptsOwnTimeLimitStopsARequest() async throws {
        let stub = try await ServiceStub.start { _ in ServiceStub.Response(status: 200, body: Array("{}".utf8), delay: .seconds(3)) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(
            config: HTTPActivityTests.config(stub) + "\nresources: {timeout: 400ms}",
            workflows: ["lead": Self.workflow(#"return http.request{connection = "crm"}.status"#)])
        let report = try await project.run("lead", on: project.runtime())
        let entry = try #require(report.activity("create"))
        #expect(entry.error?.type == "Timeout")
        #expect(TimingTests.onTime(entry.durationMs, limit: 400), "\(entry.durationMs ?? 0) ms")
    }
}
