import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowStore
import Testing

/// `runs resume-compensation --latest`: a compensation whose script was broken runs the fixed
/// script; the re-pinning is in the journal, and the store stays the fold of it.
@Suite(.timeLimit(.minutes(2))) struct ResumeCompensationLatestTests {
    @Test func theFixedScriptRunsOnlyWithLatest() async throws {
        let project = try CLIProject(files: [
            "workflows/w.yaml": """
                workflow: w
                activities:
                  - name: a
                    run: return 1
                    compensate: {script: undo_a, retry: {max_attempts: 1}}
                  - name: b
                    needs: [a]
                    run: error({type = "Boom", message = "no", retryable = false})

                """,
            "scripts/undo_a.lua": "error({type = \"Bug\", message = \"broken undo\", retryable = false})\n",
        ])
        let path = project.url.path
        #expect(try await CLIRunner.run(["run", "w", "--run-id", "r1", "--project", path]).status == 1)
        try "return {undone = true}\n".write(to: project.url.appendingPathComponent("scripts/undo_a.lua"), atomically: true, encoding: .utf8)
        // Pinned: the buggy script runs again.
        let pinned = try await CLIRunner.run(["runs", "resume-compensation", "r1", "--project", path, "--format", "json"])
        #expect(try Value(json: pinned.stdout)["status"] == "compensation_failed", "\(pinned.stderr)")
        let latest = try await CLIRunner.run(["runs", "resume-compensation", "r1", "--latest", "--project", path, "--format", "json"])
        let report = try Value(json: latest.stdout)
        #expect(report["status"] == "compensated", "\(latest.stdout)\(latest.stderr)")
        #expect(report["compensations"]?.arrayValue?.first?["output"] == ["undone": true])

        let store = try SQLiteRunStore(path: project.url.appendingPathComponent(".moonflow/state.db").path)
        let resumed = try await store.journal(of: "r1").filter { $0.type == .runCompensationResumed }
        #expect(resumed.count == 2)
        #expect(resumed.first?.data["definition_hash"] == nil)
        let repinned = try #require(resumed.last?.data["definition_hash"]?.stringValue)
        #expect(resumed.last?.data["previous_definition_hash"] != nil)
        #expect(try await store.definition(of: "r1")?.hash == repinned)
        #expect(try await store.state(of: "r1")?.definitionHash == repinned)
        #expect(try await store.verify().isEmpty)
    }
}
