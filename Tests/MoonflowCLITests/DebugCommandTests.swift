import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowStore
import Testing

/// Debugging and operating a run through the CLI (docs/operations.md): breakpoints and steps,
/// variable watching and logs, redrive after a script fix, rerun from a middle step — real Lua,
/// a real SQLite store.
@Suite(.timeLimit(.minutes(3))) struct DebugCommandTests {
    static let steps = """
        workflow: steps
        context: {total: 0}
        activities:
          - name: a
            run: |
              workflow.total = workflow.total + 1
              log.info("a adds one", {total = workflow.total})
              return {n = 1}
          - name: b
            needs: [a]
            run: |
              workflow.total = workflow.total + 10
              log.warn("b adds ten")
              return {n = steps.a.output.n + 1}
          - name: c
            needs: [b]
            run: |
              workflow.total = workflow.total + 100
              return {n = steps.b.output.n + 1}

        """

    static func json(_ result: CLIResult) throws -> Value { try Value(json: result.stdout) }

    @Test func breakBeforeThenStepThenContinue() async throws {
        let project = try CLIProject(files: ["workflows/steps.yaml": Self.steps])
        let path = project.url.path
        let paused = try await CLIRunner.run(["run", "steps", "--run-id", "r1", "--break-before", "b", "--project", path, "--format", "json"])
        #expect(paused.status == 3, "\(paused.stdout)\(paused.stderr)")
        var report = try Self.json(paused)
        #expect(report["status"] == "paused")
        #expect(report["paused"] == ["reason": "breakpoint", "before": "b"])
        #expect(report["context"] == ["total": 1])
        #expect(paused.stderr.contains("moonflow runs continue r1"))

        let step = try await CLIRunner.run(["runs", "continue", "r1", "--step", "--project", path, "--format", "json"])
        #expect(step.status == 3, "\(step.stdout)\(step.stderr)")
        report = try Self.json(step)
        #expect(report["paused"] == ["reason": "step", "before": "c"])
        #expect(report["context"] == ["total": 11])
        #expect(report["activities"]?.arrayValue?[1]["status"] == "completed")
        #expect(report["activities"]?.arrayValue?[2]["status"] == "pending")

        let done = try await CLIRunner.run(["runs", "continue", "r1", "--project", path, "--format", "json"])
        #expect(done.status == 0, "\(done.stdout)\(done.stderr)")
        report = try Self.json(done)
        #expect(report["status"] == "completed")
        #expect(report["output"] == ["n": 3])

        // Continuing a run that is not paused is refused: exit 2, nothing changes.
        let again = try await CLIRunner.run(["runs", "continue", "r1", "--project", path])
        #expect(again.status == 2)
        #expect(again.stderr.contains("only a paused run"))
        #expect(try await CLIRunner.run(["run", "steps", "--break-before", "nope", "--project", path]).status == 2)

        // Watching a variable: one line per change, with the activity that made it.
        let watch = try await CLIRunner.run(["runs", "history", "r1", "--watch", "workflow.total", "--project", path, "--format", "json"])
        let changes = try #require(try Self.json(watch).arrayValue)
        #expect(changes.map { $0["after"] } == [0, 1, 11, 111])
        #expect(changes.dropFirst().map { $0["activity"] } == ["a", "b", "c"])
        let text = try await CLIRunner.run(["runs", "history", "r1", "--watch", "steps.b.output.n", "--project", path])
        #expect(text.status == 0)
        #expect(text.stdout.split(separator: "\n").count == 1 && text.stdout.contains("steps.b.output.n  null -> 2"), "\(text.stdout)")
        #expect(try await CLIRunner.run(["runs", "history", "r1", "--watch", "total", "--project", path]).status == 2)

        // The log: script lines and the engine's, filtered by level and activity.
        let logs = try await CLIRunner.run(["runs", "logs", "r1", "--project", path, "--format", "json"])
        let lines = try #require(try Self.json(logs).arrayValue)
        #expect(lines.contains { $0["source"] == "script" && $0["message"] == "a adds one" && $0["fields"] == ["total": 1] })
        #expect(lines.contains { $0["source"] == "engine" && $0["message"] == "run paused (breakpoint) before 'b'" })
        let warnings = try await CLIRunner.run(["runs", "logs", "r1", "--level", "warn", "--project", path, "--format", "json"])
        #expect(try Self.json(warnings).arrayValue?.map { $0["message"] } == ["b adds ten"])
        let ofA = try await CLIRunner.run(["runs", "logs", "r1", "--activity", "a", "--project", path])
        #expect(ofA.stdout.contains("INFO  script  a#1  a adds one"), "\(ofA.stdout)")
        #expect(!ofA.stdout.contains("b adds ten"))
    }

    @Test func redriveAfterAScriptFixKeepsTheCompletedStep() async throws {
        let broken = """
            workflow: pay
            activities:
              - name: reserve
                run: |
                  workflow.reserved = (workflow.reserved or 0) + 1
                  return {ok = true}
              - name: charge
                needs: [reserve]
                run: error({type = "Bug", message = "typo in charge", retryable = false})

            """
        let project = try CLIProject(files: ["workflows/pay.yaml": broken])
        let path = project.url.path
        #expect(try await CLIRunner.run(["run", "pay", "--run-id", "r1", "--project", path]).status == 1)
        try broken.replacingOccurrences(of: #"error({type = "Bug", message = "typo in charge", retryable = false})"#, with: "return {charged = true}")
            .write(to: project.url.appendingPathComponent("workflows/pay.yaml"), atomically: true, encoding: .utf8)
        // Pinned to its definition, the bug is still there.
        let pinned = try await CLIRunner.run(["runs", "redrive", "r1", "--project", path, "--format", "json"])
        #expect(pinned.status == 1)
        #expect(try Self.json(pinned)["error"]?["type"] == "Bug")
        let latest = try await CLIRunner.run(["runs", "redrive", "r1", "--latest", "--project", path, "--format", "json"])
        #expect(latest.status == 0, "\(latest.stdout)\(latest.stderr)")
        let report = try Self.json(latest)
        #expect(report["status"] == "completed")
        // The completed step ran once: its context write counted once.
        #expect(report["context"] == ["reserved": 1])
        #expect(report["activities"]?.arrayValue?.first?["attempts"] == 1)
        // A completed run cannot be redriven.
        let refused = try await CLIRunner.run(["runs", "redrive", "r1", "--project", path])
        #expect(refused.status == 2 && refused.stderr.contains("only a failed, timed_out or cancelled run"))

        let store = try SQLiteRunStore(path: project.url.appendingPathComponent(".moonflow/state.db").path)
        let journal = try await store.journal(of: "r1")
        #expect(journal.filter { $0.activity == "reserve" && $0.type == .activityCompleted }.count == 1)
        let redriven = journal.filter { $0.type == .runRedriven }
        #expect(redriven.count == 2)
        #expect(redriven.first?.data["definition_hash"] == nil)
        let repinned = try #require(redriven.last?.data["definition_hash"]?.stringValue)
        #expect(try await store.state(of: "r1")?.definitionHash == repinned)
        #expect(try await store.definition(of: "r1")?.hash == repinned)
        #expect(try await store.verify().isEmpty)
    }

    @Test func rerunFromAMiddleStepDoesNotExecuteTheStepsBeforeIt() async throws {
        let project = try CLIProject(files: ["workflows/steps.yaml": Self.steps])
        let path = project.url.path
        #expect(try await CLIRunner.run(["run", "steps", "--run-id", "r1", "--project", path]).status == 0)
        let rerun = try await CLIRunner.run(["runs", "rerun", "r1", "--from", "b", "--project", path, "--format", "json"])
        #expect(rerun.status == 0, "\(rerun.stdout)\(rerun.stderr)")
        let report = try Self.json(rerun)
        let newID = try #require(report["run_id"]?.stringValue)
        #expect(newID != "r1")
        #expect(report["rerun_of"] == "r1")
        // a's context write is adopted (1), b and c run again (+10, +100).
        #expect(report["context"] == ["total": 111])
        #expect(report["output"] == ["n": 3])
        #expect(try await CLIRunner.run(["runs", "rerun", "r1", "--from", "zz", "--project", path]).status == 2)

        let store = try SQLiteRunStore(path: project.url.appendingPathComponent(".moonflow/state.db").path)
        let journal = try await store.journal(of: newID)
        #expect(!journal.contains { $0.activity == "a" && ($0.type == .activityStarted || $0.type == .activityLog) })
        #expect(journal.filter { $0.activity == "b" && $0.type == .activityStarted }.count == 1)
        #expect(try await store.verify().isEmpty)
    }
}
