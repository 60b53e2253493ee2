import Foundation
import MoonflowModel
import Testing

/// `resources: {isolation: process}` through the whole command (docs/sandbox.md): the runtime's
/// runner sends each code action where its isolation says, and the run reads the same.
@Suite struct IsolatedRunTests {
    @Test func aRunWithProcessIsolationCompletesWithTheSameOutputs() async throws {
        let workflow = """
            workflow: w
            context: {total: 0}
            activities:
              - name: a
                run: |
                  log.info("adding", {n = input.n})
                  workflow.total = workflow.total + input.n
                  return {doubled = input.n * 2, sha = hash.sha256("x"):sub(1, 8)}
              - name: b
                needs: [a]
                isolation: in_process
                run: return {seen = steps.a.output.doubled + 1, total = workflow.total}
            output:
              a: ${ steps.a.output }
              b: ${ steps.b.output }
            """
        var outputs: [Value] = []
        for isolation in ["in_process", "process"] {
            let project = try CLIProject(files: ["moonflow.yaml": "resources: {isolation: \(isolation)}\n", "workflows/w.yaml": workflow])
            let result = try await CLIRunner.run(["run", "w", "--project", project.url.path, "--input", #"{"n": 21}"#, "--format", "json"])
            let report = try Value(json: result.stdout)
            #expect(report["status"] == "completed", "\(isolation): \(result.stdout)\(result.stderr)")
            outputs.append(report["output"] ?? .null)
        }
        #expect(outputs[0] == ["a": ["doubled": 42, "sha": "2d711642"], "b": ["seen": 43, "total": 21]])
        #expect(outputs[1] == outputs[0])
    }
}
