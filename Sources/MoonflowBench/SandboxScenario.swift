import MoonflowLua
import MoonflowModel

/// The cost of the sandbox against a bare `lua_pcall` (the run's Lua floor): one sandboxed
/// execution of a tiny script (fresh environment, the engine's path) synchronously on this thread
/// and through the async pool, one expression evaluation, and, for the isolation choice, a fresh
/// state per execution; then process isolation beside in process (`SandboxIsolationFigures`).
struct SandboxScenario: BenchScenario {
    let name = "sandbox"

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        let repetitions = context.repetitions
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

        func figure(_ metric: String, _ nanos: Double, _ checked: String, target: Bool = false) -> BenchFigure {
            let ratio = nanos / context.luaFloor.nanos
            return BenchFigure(
                scenario: name, metric: metric, nanosPerOp: nanos, unit: "call", checked: checked, floor: context.luaFloor,
                target: target ? .atMost(ratio, 20, "≤ 20× bare lua_pcall (the sandbox's own target)") : nil)
        }
        return [
            figure("sandboxed run (sync)", sync, "output 42", target: true),
            figure("sandboxed run (async pool)", async, "output 42"),
            figure("expression (sync)", expression, "value 42"),
            figure("fresh state per run (sync)", freshState, "output 42"),
        ] + (try await SandboxIsolationFigures.measure(context, scenario: name))
    }
}
