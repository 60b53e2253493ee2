import MoonflowLua
import MoonflowModel

/// The cost of the sandbox against a bare `lua_pcall`, measured in one run: one sandboxed
/// execution of a tiny script (fresh environment, the engine's path) synchronously on this thread
/// and through the async pool, one expression evaluation, and, for the isolation choice, a fresh
/// state per execution.
struct SandboxScenario: BenchScenario {
    let name = "sandbox"

    func run(repetitions: Int) async throws -> [BenchFigure] {
        let floorName = "bare lua_pcall"
        guard let probe = LuaFloorProbe() else { throw BenchError(description: "could not open a Lua state") }
        var sum: Int64 = 0
        let floor = Bench.medianNanos(repetitions: repetitions, operations: 20_000) {
            for i in 0..<20_000 { sum &+= probe.call(Int64(i)) }
        }
        guard sum > 0 else { throw BenchError(description: "floor computed \(sum)") }

        let invocation = ScriptInvocation(chunk: ScriptChunk(source: "return input.n + 1", name: "bench.lua"), input: ["n": 41])
        let sandbox = try LuaSandbox()
        func check(_ outcome: ScriptOutcome) throws {
            guard outcome.output == 42 else { throw BenchError(description: "script returned \(outcome.output)") }
        }
        let sync = try Bench.medianNanos(repetitions: repetitions, operations: 2_000) {
            for _ in 0..<2_000 { try check(try sandbox.run(invocation)) }
        }

        let runner = LuaRunner(threads: 1)
        let async = try await Bench.medianNanos(repetitions: repetitions, operations: 200) {
            for _ in 0..<200 { try check(try await runner.run(invocation)) }
        }

        let template = ValueTemplate.template(Template(parts: [.expression(Expression("input.n + 1"))]))
        let scope: Value = ["input": ["n": 41]]
        let expression = try Bench.medianNanos(repetitions: repetitions, operations: 2_000) {
            for _ in 0..<2_000 {
                let value = try sandbox.evaluate(template, scope: scope, limits: LuaRunner.defaultExpressionLimits)
                guard value == 42 else { throw BenchError(description: "expression returned \(value)") }
            }
        }

        let freshState = try Bench.medianNanos(repetitions: repetitions, operations: 50) {
            for _ in 0..<50 { try check(try LuaSandbox().run(invocation)) }
        }

        func figure(_ metric: String, _ nanos: Double, _ checked: String) -> BenchFigure {
            BenchFigure(scenario: name, metric: metric, nanosPerOp: nanos, checked: checked, floor: floorName, ratio: nanos / floor)
        }
        return [
            BenchFigure(scenario: name, metric: floorName, nanosPerOp: floor, checked: "n + 1"),
            figure("sandboxed run (sync)", sync, "output 42"),
            figure("sandboxed run (async pool)", async, "output 42"),
            figure("expression (sync)", expression, "value 42"),
            figure("fresh state per run (sync)", freshState, "output 42"),
        ]
    }
}
