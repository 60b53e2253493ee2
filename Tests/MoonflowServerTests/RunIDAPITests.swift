import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import ServiceLifecycle
import Testing

@testable import MoonflowServer

/// Run ids through the API (issue 12 items 1a and 4): caller ids follow the rule, a different
/// start under an existing id is a conflict, engine-made runs can be read but not created.
@Suite("Run ids and idempotent starts through the API", .timeLimit(.minutes(1)))
struct RunIDAPITests {
    static let child = """
        workflow: check
        activities:
          - name: inner
            run: return {approved = input.amount < 1000}
        """
    static let payout = """
        workflow: payout
        activities:
          - name: check
            type: workflow
            workflow: check
            with: {amount: 101}
        """

    @Test(arguments: ["x')", "payout-101/check", "@schedule:hello:1765000000", "-x", "a b", "", String(repeating: "a", count: 201)])
    func aRunIDOutsideTheRuleIsA400NamingTheField(_ id: String) async throws {
        try await TestServer.run(Fixtures.project) { client in
            let answer = try await client.post("/v1/runs", ["workflow": "hello", "run_id": .string(id)])
            #expect(answer.status == 400)
            #expect(answer.json["error"]?["details"]?["path"] == "$.run_id")
            #expect(answer.json["error"]?["details"]?["pattern"] == .string(RunIDRule.pattern))
            #expect(try await client.get("/v1/runs").json["runs"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func theOpenAPIDocumentStatesTheSameRule() throws {
        let document = try String(contentsOf: OpenAPITests.document, encoding: .utf8)
        #expect(document.contains("pattern: \"\(RunIDRule.pattern)\""))
    }

    @Test func aDifferentStartUnderAnExistingIDIsAConflict() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let body: Value = ["workflow": "hello", "run_id": "order-7", "input": ["name": "ada"]]
            #expect(try await client.post("/v1/runs", body).status == 201)
            let same = try await client.post("/v1/runs", ["workflow": "hello", "run_id": "order-7", "input": ["name": "ada"]])
            #expect(same.status == 200)
            #expect(same.json["created"] == false)
            let otherInput = try await client.post("/v1/runs", ["workflow": "hello", "run_id": "order-7", "input": ["name": "eve"]])
            #expect(otherInput.status == 409)
            #expect(otherInput.json["error"]?["type"] == "Conflict")
            _ = try await client.waitForStatus("order-7", ["completed"])
            #expect(try await client.get("/v1/runs/order-7/report").json["input"] == ["name": "ada"])
        }
    }

    @Test func childRunsAreReadableAndCancellableByTheirEncodedID() async throws {
        var files = Fixtures.project
        files["workflows/check.yaml"] = Self.child
        files["workflows/payout.yaml"] = Self.payout
        try await TestServer.run(files) { client in
            #expect(try await client.post("/v1/runs", ["workflow": "payout", "run_id": "payout-101"]).status == 201)
            _ = try await client.waitForStatus("payout-101", ["completed"])
            let child = try await client.get("/v1/runs/payout-101%2Fcheck")
            #expect(child.status == 200)
            #expect(child.json["run_id"] == "payout-101/check")
            #expect(try await client.get("/v1/runs/payout-101%2Fcheck/history").status == 200)
            // A caller cannot create one.
            #expect(try await client.post("/v1/runs", ["workflow": "check", "run_id": "payout-102/check"]).status == 400)
        }
    }

    /// A caller's run named like an old schedule tick id (far in the future) neither stops the
    /// schedule nor takes a tick's place: the service reads ticks from schedule runs only.
    @Test func aSquattedTickIDDoesNotDisableTheSchedule() async throws {
        let project = try TestServer.project([
            "workflows/nightly.yaml": """
            workflow: nightly
            trigger: {schedule: {cron: "* * * * *"}}
            activities:
              - {name: a, run: "return 1"}
            """
        ])
        defer { try? FileManager.default.removeItem(at: project) }
        let clock = ManualClock(now: Timestamp(nanosecondsSinceEpoch: 1_765_000_030_000_000_000))
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        let core = try #require(try TestServer.runtime(project: project, clock: clock, logger: logger).served)
        for id in ["sched-nightly-4102444800", "sched-nightly-1765000080"] {
            _ = try await core.engine.start(try #require(core.catalog.current("nightly")).pinned, input: ["evil": true], runID: id)
        }
        let service = ScheduleService(core: core, horizon: .seconds(3600))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            while clock.sleeperCount == 0 { await Task.yield() }
            clock.advance(by: .seconds(60))
            let deadline = ContinuousClock.now + .seconds(10)
            while try await core.store.state(of: "@schedule:nightly:1765000080") == nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            group.cancelAll()
        }
        let stored = try await core.store.state(of: "@schedule:nightly:1765000080")
        let tick: RunState = try #require(stored)
        #expect(tick.input == [:])
        #expect(tick.origin == RunOrigin.schedule(tick: Timestamp(nanosecondsSinceEpoch: 1_765_000_080_000_000_000)))
    }
}
