import MoonflowLua
import MoonflowModel
import Testing

/// The pool hands each result back exactly once, whether the caller was still polling for it,
/// had already suspended, or had queued its job behind others.
@Suite struct RunnerHandoffTests {
    @Test func shortAndLongScriptsAndQueuedJobsAllGetTheirOwnResult() async throws {
        let runner = LuaRunner(threads: 1)
        #expect(await run("return input.n + 1", input: ["n": 1], runner: runner).value?.output == 2)
        let long = "local s = 0 for i = 1, 2000000 do s = s + i end return s + input.n"
        #expect(await run(long, input: ["n": 1], runner: runner).value?.output == 2_000_001_000_001)
        let outputs = await withTaskGroup(of: (Int, Value?).self) { group in
            for i in 0..<40 {
                group.addTask {
                    let source = i % 4 == 0 ? long : "return input.n * 2"
                    return (i, await run(source, input: ["n": .int(Int64(i))], runner: runner).value?.output)
                }
            }
            var outputs: [Int: Value?] = [:]
            for await (i, output) in group { outputs[i] = output }
            return outputs
        }
        for i in 0..<40 {
            let expected: Value = i % 4 == 0 ? .int(2_000_001_000_000 + Int64(i)) : .int(Int64(i * 2))
            #expect(outputs[i] == expected)
        }
    }

    @Test func cancellationReachesAQueuedJob() async throws {
        let runner = LuaRunner(threads: 1)
        let busy = Task { await run("while true do end", limits: ScriptLimits(instructions: .max), runner: runner) }
        try await Task.sleep(for: .milliseconds(50))
        let queued = Task { await run("while true do end", limits: ScriptLimits(instructions: .max), runner: runner) }
        try await Task.sleep(for: .milliseconds(50))
        queued.cancel()
        busy.cancel()
        #expect(await busy.value.failure?.type == .cancelled)
        #expect(await queued.value.failure?.type == .cancelled)
    }
}
