import Foundation
import Testing

@Suite struct ScriptCommandTests {
    /// A throwaway project holding scripts/charge.lua (a file in the test folder would be an unhandled resource).
    static let project: String = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-script-tests-\(getpid())")
        let scripts = directory.appendingPathComponent("scripts")
        try? FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
        try? charge.write(to: scripts.appendingPathComponent("charge.lua"), atomically: true, encoding: .utf8)
        return directory.path
    }()

    static let charge = """
        -- A code action used by the CLI tests.
        if input.amount <= 0 then
          error({type = "InvalidAmount", message = "amount must be positive", retryable = false})
        end
        workflow.charged = (workflow.charged or 0) + input.amount
        log.info("charged", {amount = input.amount})
        return {receipt = hash.sha256("order-" .. input.amount):sub(1, 8), total = workflow.charged}
        """

    @Test func successPrintsOutputContextAndLogs() async throws {
        let result = try await CLIRunner.run(["script", "charge", "--project", Self.project, "--input", #"{"amount": 5}"#, "--context", #"{"charged": 10}"#])
        #expect(result.status == 0)
        #expect(result.stdout == #"{"output":{"receipt":"f71df656","total":15},"context":{"charged":15},"logs":[{"level":"info","message":"charged","fields":{"amount":5}}]}"# + "\n")
    }

    /// `--isolation process`: the same document from a sandbox helper (`moonflow sandbox-helper`).
    @Test func aSandboxHelperPrintsTheSameDocument() async throws {
        let arguments = ["script", "charge", "--project", Self.project, "--input", #"{"amount": 5}"#, "--context", #"{"charged": 10}"#]
        let local = try await CLIRunner.run(arguments)
        let isolated = try await CLIRunner.run(arguments + ["--isolation", "process"])
        #expect(isolated.status == 0, "\(isolated.stderr)")
        #expect(isolated.stdout == local.stdout)
        let failed = try await CLIRunner.run(["script", "charge", "--project", Self.project, "--input", #"{"amount": 0}"#, "--isolation", "process"])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains(#""type":"InvalidAmount""#))
        let unknown = try await CLIRunner.run(arguments + ["--isolation", "container"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("--isolation: expected in_process or process, got 'container'"))
    }

    @Test func typedErrorIsJSONWithExitOne() async throws {
        let result = try await CLIRunner.run(["script", "charge", "--project", Self.project, "--input", #"{"amount": 0}"#])
        #expect(result.status == 1)
        #expect(result.stdout == #"{"error":{"type":"InvalidAmount","message":"amount must be positive","script":"scripts/charge.lua","line":3,"retryable":false}}"# + "\n")
    }

    @Test func limitsAreApplied() async throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-loop-\(UUID().uuidString).lua")
        try "while true do end".write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let result = try await CLIRunner.run(["script", script.path, "--limits", "instructions=1000000,timeout=2s"])
        #expect(result.status == 1)
        #expect(result.stdout.contains(#""type":"LuaInstructionLimit""#))
    }

    @Test func badInputIsAUsageError() async throws {
        let result = try await CLIRunner.run(["script", "charge", "--project", Self.project, "--input", "{amount"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("--input: invalid JSON"))
    }

    @Test func badLimitsAreAUsageError() async throws {
        let result = try await CLIRunner.run(["script", "charge", "--project", Self.project, "--limits", "memory=lots"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--limits: memory"))
    }
}

@Suite struct EvalCommandTests {
    @Test func printsTheValue() async throws {
        let result = try await CLIRunner.run(["eval", "{total = input.a * 2, name = 'x'}", "--input", #"{"a": 21}"#])
        #expect(result.status == 0)
        #expect(result.stdout == #"{"name":"x","total":42}"# + "\n")
    }

    @Test func writesAreViolations() async throws {
        let result = try await CLIRunner.run(["eval", "rawset(input, 'a', 1)"])
        #expect(result.status == 1)
        #expect(result.stdout.contains(#""type":"SandboxViolation""#))
    }

    @Test func evalAcceptsATemplateAsWrittenInAWorkflow() async throws {
        let result = try await CLIRunner.run(["eval", "${ input.a * 2 }", "--input", #"{"a": 21}"#])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "42")
    }

    @Test func syntaxErrorIsReported() async throws {
        let result = try await CLIRunner.run(["eval", "1 +"])
        #expect(result.status == 1)
        #expect(result.stdout.hasPrefix(#"{"error":{"type":"ActivityError","message":"syntax error:"#))
    }
}
