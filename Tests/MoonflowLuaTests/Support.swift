import Foundation
import MoonflowLua
import MoonflowModel
import OrderedCollections

/// One runner with a single thread, so every execution of the suite reuses (or replaces) the same
/// state and leaks between executions would show.
let sharedRunner = LuaRunner(threads: 1)

/// The `moonflow` binary beside the test bundle: what sandbox helpers run (`moonflow
/// sandbox-helper`; the test binary has no such subcommand).
let helperExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    .appendingPathComponent("moonflow").path

/// The process-isolation twin of `sharedRunner`: one helper, reused or replaced like the state.
let sharedIsolatingRunner = IsolatingRunner(inProcess: LuaRunner(threads: 1), helpers: .init(helpers: 1, executable: helperExecutable, testLedger: nil))

/// Limits small enough that every attack ends quickly, by the limits rather than by timing.
let attackLimits = ScriptLimits(memory: 16 << 20, instructions: 20_000_000, timeout: .seconds(120))

func run(
    _ source: String, input: Value = .object([:]), context: OrderedDictionary<String, Value> = [:],
    limits: ScriptLimits = attackLimits, firstLine: Int = 1, runner: any ScriptRunning = sharedRunner
) async -> Result<ScriptOutcome, ActivityFailure> {
    let invocation = ScriptInvocation(
        chunk: ScriptChunk(source: source, name: "test.lua", firstLine: firstLine), input: input, context: context,
        steps: ["fetch": ["output": ["n": 1], "status": "completed"]],
        activity: ["name": "act", "attempt": 1, "idempotency_key": "k-1", "run": ["id": "r1", "workflow": "wf", "version": 1]],
        limits: limits)
    do {
        return .success(try await runner.run(invocation))
    } catch {
        return .failure(error)
    }
}

extension Result {
    var failure: Failure? { if case .failure(let f) = self { f } else { nil } }
    var value: Success? { if case .success(let v) = self { v } else { nil } }
}

/// A script that returns everything a leak from a previous execution could have left behind.
let cleanlinessProbe = """
    local names = {}
    for k in pairs(_ENV) do names[#names + 1] = k end
    table.sort(names)
    return {
      globals = table.concat(names, ","),
      string_x = rawequal(string.x, nil) and "none" or "leak",
      rep = type(string.rep) == "function" and ("ab"):rep(2) or "leak",
      smt = tostring(getmetatable("")),
      print = type(print),
      gc = type(collectgarbage("count")),
      leak = rawequal(leak, nil) and "none" or "leak",
    }
    """

/// What the probe returns when nothing leaked.
let cleanProbeResult: Value = [
    "globals": "activity,input,steps,workflow", "string_x": "none", "rep": "abab", "smt": "false", "print": "nil",
    "gc": "number", "leak": "none",
]
