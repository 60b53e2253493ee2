import Foundation
import MoonflowModel
import Testing

/// `moonflow run` on the example workflows, through the built binary (docs/cli.md). The services
/// the examples call are served by `moonflow mock-services mocks/services.yaml` on the port
/// moonflow.yaml names, one test at a time.
@Suite(.serialized) struct RunCommandTests {
    func run(_ arguments: [String]) async throws -> (status: Int32, report: Value?, stderr: String) {
        let result = try await CLIRunner.run(["run", "--store", "memory"] + arguments)
        return (result.status, try? Value(json: result.stdout), result.stderr)
    }

    /// `body` while `moonflow mock-services` answers on 127.0.0.1:8089.
    func withMockServices<T>(_ body: () async throws -> T) async throws -> T {
        let process = Process()
        process.executableURL = CLIRunner.binary
        process.arguments = ["mock-services", "mocks/services.yaml", "--port", "8089"]
        process.currentDirectoryURL = CLIRunner.repositoryRoot
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        // It says so on standard error once it listens.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("listening"), process.isRunning {
            seen += errors.fileHandleForReading.availableData
        }
        return try await body()
    }

    @Test func helloCompletesAndPrintsTheJSONReport() async throws {
        let (status, report, _) = try await run(["hello", "--input", #"{"name": "Ada"}"#, "--run-id", "hello-1", "--format", "json"])
        #expect(status == 0)
        let json = try #require(report)
        #expect(json["run_id"] == "hello-1")
        #expect(json["workflow"] == "hello")
        #expect(json["version"] == .null)
        #expect(json["definition_hash"]?.stringValue?.count == 64)
        #expect(json["status"] == "completed")
        #expect(json["started_at"]?.stringValue?.hasSuffix("Z") == true)
        #expect(json["duration_ms"]?.intValue != nil)
        #expect(json["input"] == ["name": "Ada"])
        #expect(json["context"] == ["greetings": 1])
        #expect(json["output"] == ["text": "Hello, Ada! — Moonflow", "count": 1])
        #expect(json["error"] == .null)
        let activities = try #require(json["activities"]?.arrayValue)
        #expect(activities.map { $0["name"] } == ["greet", "sign"])
        #expect(activities.map { $0["status"] } == ["completed", "completed"])
        #expect(activities.map { $0["seq"] } == [1, 2])
        #expect(activities.map { $0["attempts"] } == [1, 1])
        #expect(activities[1]["input"] == ["message": "Hello, Ada!"])
        #expect(activities[0]["output"] == ["message": "Hello, Ada!"])
        #expect(activities[0]["via_fallback"] == false)
        #expect(json["compensations"] == [])
        #expect(json["tasks"] == [])
        #expect((json["events"]?.intValue ?? 0) >= 8)
    }

    @Test func orderProcessingCompletesWithItsOutputTemplate() async throws {
        let input = #"{"order_id": "ORD-1", "customer": {"email": "a@example.com"}, "items": [{"sku": "S", "quantity": 2, "price": 5}]}"#
        let (status, report, _) = try await withMockServices { try await run(["order_processing", "--input", input, "--format", "json"]) }
        #expect(status == 0)
        let json = try #require(report)
        #expect(json["status"] == "completed")
        #expect(json["version"] == "1")
        #expect(json["output"] == ["payment_id": "PAY-MOCK-1", "tracking_number": "TRK-MOCK-1"])
        #expect(json["activities"]?.arrayValue?.first?["output"]?["amount"] == 10)
    }

    @Test func aFailedTicketIsCompensatedInReverseCompletionOrder() async throws {
        let input = #"{"ticket_id": "T-1", "priority": "high", "tier": "pro", "subject": "down", "fail_sla": true}"#
        let (status, report, _) = try await withMockServices { try await run(["high_priority_ticket", "--input", input, "--format", "json"]) }
        #expect(status == 1)
        let json = try #require(report)
        #expect(json["status"] == "compensated")
        #expect(json["error"]?["type"] == "SlaUnavailable")
        #expect(json["error"]?["activity"] == "set_sla")
        let compensations = try #require(json["compensations"]?.arrayValue)
        #expect(compensations.map { $0["activity"] } == ["assign_agent", "notify_team"])
        #expect(compensations.map { $0["handler"] } == ["scripts/unassign_agent.lua", "scripts/retract_notification.lua"])
        #expect(compensations.map { $0["status"] } == ["completed", "completed"])
    }

    @Test func aRunWaitingOnAHumanExitsThree() async throws {
        let input = #"{"stock": [{"sku": "A", "on_hand": 1, "threshold": 5}]}"#
        let (status, report, stderr) = try await run(["inventory_reorder", "--input", input, "--format", "json"])
        #expect(status == 3)
        #expect(stderr.contains("waits on a manual task"))
        let json = try #require(report)
        #expect(json["status"] == "waiting")
        let task = try #require(json["tasks"]?.arrayValue?.first)
        #expect(task["activity"] == "approve_purchase")
        #expect(task["status"] == "open")
        #expect(task["assignees"] == ["users": [], "groups": ["buyers"]])
    }

    @Test func unknownWorkflowAndBadInputAreUsageErrors() async throws {
        #expect(try await run(["no_such_workflow"]).status == 2)
        #expect(try await run(["hello", "--input", "{not json"]).status == 2)
        #expect(try await run(["hello", "--input", "{}", "--input-file", "x.json"]).status == 2)
    }

    @Test func textReportHasOneLinePerActivity() async throws {
        let result = try await CLIRunner.run(["run", "hello"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first?.contains("workflow hello  completed") == true)
        #expect(lines.contains { $0.hasPrefix("  greet  completed  attempts 1") })
        #expect(lines.contains { $0.hasPrefix("  sign   completed  attempts 1") })
    }
}
