import Foundation
import MoonflowEngine
import MoonflowStore
import MoonflowModel
import Testing

/// Seed 004's `compensation.activities`: workflow-level compensations found by name, run once
/// each after the per-activity ones, in reverse list order with `strategy: reverse`.
@Suite struct WorkflowCompensationTests {
    static func project(strategy: String) throws -> CLIProject {
        try CLIProject(files: [
            "workflows/ticket.yaml": """
                workflow: ticket
                execution:
                  activities:
                    - name: assign
                      run: return {agent = "ada"}
                      compensate:
                        run: return {unassigned = true}
                    - name: set_sla
                      run: error({type = "SlaDown", message = "no", retryable = false})
                  compensation:
                    strategy: \(strategy)
                    activities: [{name: revert_assignment}, {name: clear_sla, with: {why: "${ error.type }"}}]

                """,
            "scripts/revert_assignment.lua": "return {reverted = true}\n",
            "scripts/clear_sla.lua": "return {cleared = input.why}\n",
        ])
    }

    @Test(arguments: [("reverse", ["assign", "clear_sla", "revert_assignment"]), ("parallel", ["assign", "revert_assignment", "clear_sla"])])
    func theyRunAfterThePerActivityOnesAndAreReported(strategy: String, order: [String]) async throws {
        let project = try Self.project(strategy: strategy)
        let result = try await CLIRunner.run(["run", "ticket", "--project", project.url.path, "--format", "json"])
        let report = try Value(json: result.stdout)
        #expect(report["status"] == "compensated", "\(result.stdout)\(result.stderr)")
        let compensations = report["compensations"]?.arrayValue ?? []
        // The plan order; with `parallel` they start in it.
        #expect(compensations.compactMap { $0["activity"]?.stringValue } == order)
        #expect(compensations.allSatisfy { $0["status"] == "completed" })
        #expect(compensations.first { $0["activity"] == "clear_sla" }?["output"] == ["cleared": "SlaDown"])
    }

    @Test func aNameTakenByAnActivityIsRefused() async throws {
        let project = try CLIProject(files: [
            "workflows/w.yaml": """
                workflow: w
                activities:
                  - name: a
                    run: return 1
                compensation:
                  activities: [{name: a, run: return 2}]
                  notification: {channels: [log]}

                """
        ])
        let result = try await CLIRunner.run(["validate", "--project", project.url.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("workflows/w.yaml:6:16") || result.stderr.contains("workflows/w.yaml:6:16"), "\(result.stdout)\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("not supported: 'compensation.notification'"))
    }
}

/// A process killed between two workflow-level compensations: the restart runs the remaining
/// one only, in order, and the store is the fold of the journal.
@Suite(.timeLimit(.minutes(2))) struct WorkflowCompensationCrashTests {
    @Test func aKillBetweenWorkflowLevelCompensationsContinuesWithTheRest() async throws {
        let project = try WorkflowCompensationTests.project(strategy: "reverse")
        let path = project.url.path
        let killed = try await CLIRunner.run(
            ["run", "ticket", "--run-id", "t1", "--project", path],
            environment: ["MOONFLOW_FAILPOINTS": "after_commit:compensation_completed:clear_sla"])
        #expect(killed.status == 137, "\(killed.stderr)")
        let resumed = try await CLIRunner.run(["runs", "resume", "--project", path])
        #expect(resumed.stdout == "t1  compensated\n", "\(resumed.stderr)")
        let store = try SQLiteRunStore(path: project.url.appendingPathComponent(".moonflow/state.db").path)
        let journal = try await store.journal(of: "t1")
        let completed = journal.filter { $0.type == .compensationCompleted }.compactMap(\.activity)
        #expect(completed == ["assign", "clear_sla", "revert_assignment"])
        #expect(journal.filter { $0.type == .compensationStarted && $0.activity == "clear_sla" }.count == 1)
        #expect(try await store.verify().isEmpty)
    }
}
