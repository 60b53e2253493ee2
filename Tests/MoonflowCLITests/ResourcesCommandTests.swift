import Foundation
import MoonflowModel
import Testing

/// moonflow.yaml's `resources` are the sandbox defaults of every execution (activities,
/// compensations, `moonflow test`); an activity's `limits` override them. Through the binary.
@Suite struct ResourcesCommandTests {
    static let allocate21MB = """
        local t = {}
              for i = 1, 21 do t[i] = string.rep(string.char(64 + i), 1024 * 1024) end
              return #t
        """

    static func project() throws -> CLIProject {
        try CLIProject(files: [
            "moonflow.yaml": "resources:\n  memory: {limit: 4Mi}\n  instructions: 200000\n  timeout: 300ms\n  output_size: 2Ki\n",
            "workflows/mem.yaml": "workflow: mem\nactivities:\n  - name: big\n    retry: {max_attempts: 1}\n    run: |\n      \(allocate21MB)\n",
            "workflows/mem.test.yaml": "tests:\n  - name: the engine-wide memory limit applies\n    expect: {status: failed, error: LuaMemoryLimit}\n",
            "workflows/memok.yaml":
                "workflow: memok\nactivities:\n  - name: big\n    retry: {max_attempts: 1}\n    limits: {memory: 64Mi, instructions: 100000000}\n    timeout: 30s\n    run: |\n      \(allocate21MB)\n",
            "workflows/spin.yaml":
                "workflow: spin\nactivities:\n  - name: spin\n    retry: {max_attempts: 1}\n    run: |\n      local n = 0\n      for i = 1, 10000000 do n = n + i end\n      return n\n",
            "workflows/out.yaml": "workflow: out\nactivities:\n  - name: big\n    retry: {max_attempts: 1}\n    run: return string.rep('x', 10000)\n",
            "workflows/slow.yaml":
                "workflow: slow\nactivities:\n  - name: wait\n    retry: {max_attempts: 1}\n    limits: {instructions: 2000000000}\n    run: |\n      while true do end\n",
            "workflows/comp.yaml": """
                workflow: comp
                activities:
                  - name: a
                    run: return 1
                    compensate:
                      retry: {max_attempts: 1}
                      run: |
                        local t = {}
                        for i = 1, 21 do t[i] = string.rep(string.char(64 + i), 1024 * 1024) end
                        return #t
                  - name: b
                    needs: [a]
                    run: error({type = "Boom", message = "no", retryable = false})

                """,
        ])
    }

    @Test func everyKeyIsTheDefaultOfEveryExecution() async throws {
        let project = try Self.project()
        func report(_ workflow: String) async throws -> Value {
            let result = try await CLIRunner.run(["run", workflow, "--project", project.url.path, "--format", "json"])
            #expect(!result.stdout.isEmpty, "\(workflow): \(result.stderr)")
            return try Value(json: result.stdout)
        }
        #expect(try await report("mem")["error"]?["type"] == "LuaMemoryLimit")
        #expect(try await report("memok")["status"] == "completed")
        #expect(try await report("spin")["error"]?["type"] == "LuaInstructionLimit")
        #expect(try await report("out")["error"]?["message"] == "output: value larger than the limit of 2048 bytes")
        #expect(try await report("slow")["error"]?["type"] == "Timeout")
        let comp = try await report("comp")
        #expect(comp["status"] == "compensation_failed")
        #expect(comp["compensations"]?.arrayValue?.first?["error"]?["type"] == "LuaMemoryLimit")
        // `moonflow test` runs with the same defaults.
        let tested = try await CLIRunner.run(["test", "mem", "--project", project.url.path])
        #expect(tested.status == 0, "\(tested.stdout)\(tested.stderr)")
    }
}
