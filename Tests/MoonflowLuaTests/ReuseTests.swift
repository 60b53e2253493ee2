import MoonflowLua
import MoonflowModel
import OrderedCollections
import Testing

/// What one state keeps from one execution to the next for speed — compiled functions (a
/// dictionary behind a last-used entry), the encoding buffers, the environment built inside the
/// run's protected call — must never show up in another execution's results.
@Suite struct ReuseTests {
    func run(_ sandbox: LuaSandbox, _ source: String, input: Value = .object([:]), context: OrderedDictionary<String, Value> = [:])
        throws(ActivityFailure) -> ScriptOutcome
    {
        try sandbox.run(ScriptInvocation(chunk: ScriptChunk(source: source, name: "reuse.lua"), input: input, context: context))
    }

    func evaluate(_ sandbox: LuaSandbox, _ source: String, scope: Value = .object([:])) throws(ActivityFailure) -> Value {
        try sandbox.evaluate(.template(Template(parts: [.expression(Expression(source))])), scope: scope, limits: LuaRunner.defaultExpressionLimits)
    }

    @Test func changedSourceNeverRunsTheLastFunction() throws {
        let sandbox = try LuaSandbox()
        #expect(try run(sandbox, "return 1").output == 1)
        #expect(try run(sandbox, "return 2").output == 2)
        #expect(try run(sandbox, "return 1").output == 1)
        // Equal text in other storage finds the same function; a chunk and an expression of the same
        // text are different functions.
        #expect(try run(sandbox, String("return 1".reversed().reversed())).output == 1)
        #expect(try evaluate(sandbox, "type(1)") == "number")
        #expect(try run(sandbox, "type(1)").output == .null)
    }

    /// Flushing the cache frees every reference; Lua hands freed references out again, so a
    /// last-used entry kept across the flush would run another function.
    @Test func flushedCacheForgetsTheLastUsedFunctions() throws {
        let sandbox = try LuaSandbox()
        #expect(try evaluate(sandbox, "40 + 2") == 42)
        for i in 0..<300 { #expect(try run(sandbox, "return \(i)").output == .int(Int64(i))) }
        #expect(try run(sandbox, "return 'other'").output == "other")
        #expect(try evaluate(sandbox, "40 + 2") == 42)
        #expect(try run(sandbox, "return 299").output == 299)
        #expect(try run(sandbox, "return 0").output == 0)
    }

    @Test func buffersGrowAndShrinkBetweenExecutions() throws {
        let sandbox = try LuaSandbox()
        let big = String(repeating: "x", count: 100_000)
        let items: [Value] = (0..<2_000).map { .int(Int64($0)) }
        #expect(try run(sandbox, "return #input.s + #input.items", input: ["s": .string(big), "items": .array(items)]).output == 102_000)
        #expect(try run(sandbox, "return input.s", input: ["s": "small"]).output == "small")
        #expect(try run(sandbox, "return #json.encode(input.items)", input: ["items": .array(items)]).output == 8_891)
        #expect(try run(sandbox, "return json.encode(input)", input: ["a": 1]).output == #"{"a":1}"#)
        #expect(try run(sandbox, "return input", input: ["v": .double(2.5)]).output == ["v": 2.5])
    }

    @Test func inputIsBuiltWithTheEnvironmentAndStaysPrivate() throws {
        let sandbox = try LuaSandbox()
        #expect(try run(sandbox, "input.n = input.n + 1; leak = input; return rawget(_ENV, 'input').n", input: ["n": 1]).output == 2)
        #expect(try run(sandbox, "return {input.n == nil, rawequal(leak, nil), rawget(_ENV, 'steps') == nil}", input: [:]).output == [true, true, true])
    }

    /// `workflow` is read back only when the script replaced or touched it, whichever way.
    @Test func everyWayOfReplacingWorkflowIsSeen() throws {
        let sandbox = try LuaSandbox()
        let context: OrderedDictionary<String, Value> = ["x": 1]
        #expect(try run(sandbox, "return 1", context: context).contextWrites == [:])
        #expect(try run(sandbox, "rawset(_ENV, 'workflow', {x = 5}); return 1", context: context).contextWrites == ["x": 5])
        #expect(try run(sandbox, "workflow = {x = 6}; return 1", context: context).contextWrites == ["x": 6])
        #expect(try run(sandbox, "local w = workflow; w.x = 7; return 1", context: context).contextWrites == ["x": 7])
        #expect(try run(sandbox, "rawset(_ENV, 'workflow', {x = 8}); for k in pairs(_ENV) do end; return 1", context: context).contextWrites == ["x": 8])
        #expect(try run(sandbox, "_ENV = {workflow = {x = 9}}; return 1", context: context).contextWrites == [:])
    }
}
