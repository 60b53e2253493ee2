import Foundation
import MoonflowModel
import Testing

/// `moonflow runs replay`: an attempt of a script using time.now, time.unix, uuid and math.random
/// replays to the same output and context writes (exit 0); changed code (`--script`) differs and
/// says where (exit 1).
@Suite(.timeLimit(.minutes(2))) struct ReplayCommandTests {
    static let workflow = """
        workflow: lottery
        activities:
          - name: draw
            run: |
              local picks = {}
              for i = 1, 3 do picks[i] = math.random(1, 1000000) end
              workflow.ticket = uuid()
              return {at = time.now(), unix = time.unix(), picks = picks, ticket = workflow.ticket, f = math.random()}
          - name: after
            needs: [draw]
            run: |
              return {n = #steps.draw.output.picks}

        """

    @Test func anUnchangedScriptReproducesItsOutputAndChangedCodeDiffers() async throws {
        let project = try CLIProject(files: ["workflows/lottery.yaml": Self.workflow])
        let path = project.url.path
        #expect(try await CLIRunner.run(["run", "lottery", "--run-id", "r1", "--project", path]).status == 0)

        let same = try await CLIRunner.run(["runs", "replay", "r1", "draw", "--project", path, "--format", "json"])
        #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
        let result = try Value(json: same.stdout)
        #expect(result["equal"] == true)
        #expect(result["attempt"] == 1)
        #expect(result["recorded"] == result["replayed"])
        #expect(result["recorded"]?["context_writes"]?["ticket"]?.stringValue?.count == 36)

        // Replaying twice gives the same again (nothing is written).
        #expect(try await CLIRunner.run(["runs", "replay", "r1", "draw", "--project", path]).stdout.contains("equal"))

        let changed = """
            local picks = {}
            for i = 1, 3 do picks[i] = math.random(1, 1000000) end
            workflow.ticket = uuid()
            return {at = time.now(), unix = time.unix(), picks = picks, ticket = "fixed", f = math.random()}
            """
        let fix = project.url.appendingPathComponent("fix.lua")
        try changed.write(to: fix, atomically: true, encoding: .utf8)
        let different = try await CLIRunner.run(["runs", "replay", "r1", "draw", "--script", fix.path, "--project", path])
        #expect(different.status == 1, "\(different.stdout)\(different.stderr)")
        #expect(different.stdout.contains("replay of 'draw' attempt 1: different"))
        #expect(different.stdout.contains("output: recorded"))
        #expect(!different.stdout.contains("workflow.ticket"))  // the context write is the same

        let inline = try await CLIRunner.run(["runs", "replay", "r1", "draw", "--script", "return 1", "--project", path, "--format", "json"])
        #expect(inline.status == 1)
        #expect(try Value(json: inline.stdout)["replayed"]?["output"] == 1)

        #expect(try await CLIRunner.run(["runs", "replay", "r1", "nope", "--project", path]).status == 2)
        #expect(try await CLIRunner.run(["runs", "replay", "r1", "draw", "--attempt", "5", "--project", path]).status == 2)
        #expect(try await CLIRunner.run(["runs", "replay", "zz", "draw", "--project", path]).status == 2)
    }

    /// With `isolation: process` the helper records the attempt (`activity.recorded`) and the
    /// replay, in a helper too, reproduces it; changed code still differs.
    @Test func anAttemptInASandboxHelperIsRecordedAndReplays() async throws {
        let project = try CLIProject(files: ["moonflow.yaml": "resources: {isolation: process}\n", "workflows/lottery.yaml": Self.workflow])
        let path = project.url.path
        let run = try await CLIRunner.run(["run", "lottery", "--run-id", "p1", "--project", path])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")

        let history = try await CLIRunner.run(["runs", "history", "p1", "--format", "json", "--project", path])
        let entries = try Value(json: history.stdout).arrayValue ?? []
        let recorded = entries.filter { $0["type"] == "activity.recorded" }
        #expect(recorded.count == 1 && recorded.first?["activity"] == "draw", "\(history.stdout)")
        let data = recorded.first?["data"]
        #expect(data?["now"]?.arrayValue?.count == 1 && data?["unix"]?.arrayValue?.count == 1)
        #expect(data?["uuid"]?.arrayValue?.count == 1 && data?["random_seeds"]?.arrayValue?.count == 1)

        let same = try await CLIRunner.run(["runs", "replay", "p1", "draw", "--project", path, "--format", "json"])
        #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
        #expect(try Value(json: same.stdout)["equal"] == true)

        let different = try await CLIRunner.run(["runs", "replay", "p1", "draw", "--script", "return {ticket = uuid()}", "--project", path])
        #expect(different.status == 1, "\(different.stdout)\(different.stderr)")
    }
}
