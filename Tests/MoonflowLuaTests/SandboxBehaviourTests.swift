import Foundation
import MoonflowLua
import MoonflowModel
import OrderedCollections
import Testing

@Suite struct ValueBridgeTests {
    static let roundTrips: [Value] = [
        .null, true, 42, -7, 2.5, 1e300, "héllo", ["a": 1, "b": ["c": [1, 2.0, "x"]]], [1, 2, 3], [["x": 1], ["y": 2]],
        .int(.max), .int(.min), .double(0.1),
    ]

    @Test(arguments: roundTrips)
    func roundTrip(_ value: Value) async throws {
        let result = await run("return input.v", input: ["v": value])
        #expect(result.value?.output == value)
    }

    @Test func integersAndFloatsStayApart() async throws {
        let result = await run("return {i = 3, f = 3.0, d = 7 // 2, q = 7 / 2, m = math.type(input.n)}", input: ["n": 2.0])
        #expect(result.value?.output == ["i": .int(3), "f": .double(3), "d": .int(3), "q": .double(3.5), "m": "float"])
    }

    @Test func emptyTableIsAnEmptyObject() async throws {
        #expect(await run("return {}").value?.output == .object([:]))
    }

    @Test func objectKeysAreSorted() async throws {
        let output = await run("return {zeta = 1, alpha = 2, mid = 3}").value?.output
        #expect(output?.objectValue.map { Array($0.keys) } == ["alpha", "mid", "zeta"])
    }

    @Test func pathNamesTheOffendingValue() async throws {
        let failure = await run("return {items = {1, 2, {f = type}}}").failure
        #expect(failure?.message == "output.items[3].f: functions cannot leave the sandbox")
        let odd = await run("return {['a b'] = {[1.5] = 1}}").failure
        #expect(odd?.message.hasPrefix("output[\"a b\"]: float keys cannot leave the sandbox") == true)
    }

    @Test func inputDeeperThanTheLimitIsRefused() async throws {
        var deep: Value = 1
        for _ in 0..<70 { deep = ["x": deep] }
        let failure = await run("return 1", input: ["d": deep]).failure
        #expect(failure?.type == .sandboxViolation)
    }

    @Test func contextWritesAreReturnedApart() async throws {
        let result = await run(
            "workflow.count = workflow.count + 1; workflow.gone = nil; table.insert(workflow.items, 3); workflow.fresh = 'x'; return 'ok'",
            context: ["count": 1, "gone": true, "items": [1, 2], "same": ["a": .null], "empty": []])
        let writes = try #require(result.value?.contextWrites)
        #expect(writes == ["count": 2, "fresh": "x", "items": [1, 2, 3], "gone": .null])
        #expect(result.value?.output == "ok")
    }

    @Test func failedExecutionsKeepNoWrites() async throws {
        let result = await run("workflow.x = 1; error('no')", context: ["x": 0])
        #expect(result.failure?.type == .activityError)
    }
}

@Suite struct BuiltinTests {
    @Test func sha256AndHmacVectors() async throws {
        let output = await run("""
            return {
              empty = hash.sha256(''),
              abc = hash.sha256('abc'),
              hmac = hmac.sha256('key', 'The quick brown fox jumps over the lazy dog'),
            }
            """).value?.output
        #expect(output?["empty"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(output?["abc"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(output?["hmac"] == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    }

    @Test func base64AndHex() async throws {
        let output = await run("""
            return {b = base64.encode('foobar'), d = base64.decode('Zm9vYmE='), h = hex.encode('\\0\\255A'), x = hex.decode('414243'),
                    bad = select(2, pcall(hex.decode, 'zz')) ~= nil}
            """).value?.output
        #expect(output == ["b": "Zm9vYmFy", "d": "fooba", "h": "00ff41", "x": "ABC", "bad": true])
    }

    @Test func json() async throws {
        let output = await run("""
            local v = json.decode('{"a":[1,2.5,"x"],"b":{"c":true}}')
            return {enc = json.encode({z = 1, a = {1, 2}}), a2 = v.a[2], c = v.b.c, n = math.type(v.a[1])}
            """).value?.output
        #expect(output == ["enc": #"{"a":[1,2],"z":1}"#, "a2": 2.5, "c": true, "n": "integer"])
        #expect(await run("return json.decode('{')").failure?.type == .activityError)
    }

    @Test func timeAndUUID() async throws {
        let output = try #require(await run("""
            return {now = time.now(), unix = time.unix(), p = time.parse('2024-02-29T12:30:00Z'), o = time.parse('2024-02-29T14:30:00.5+02:00'),
                    d = time.parse('1970-01-02'), u = uuid()}
            """).value?.output)
        #expect(output["p"] == .int(1_709_209_800))
        #expect(output["o"] == .double(1_709_209_800.5))
        #expect(output["d"] == .int(86400))
        #expect(output["now"]?.stringValue?.count == 24)
        #expect(output["now"]?.stringValue?.hasSuffix("Z") == true)
        #expect(output["u"]?.stringValue?.count == 36)
        #expect(await run("return time.parse('yesterday')").failure?.type == .activityError)
    }

    @Test func logsAndEvents() async throws {
        let outcome = try #require(await run("""
            log.info('charged', {amount = 10}); log.warn('careful'); emit('order.paid', {id = 7}); return 1
            """).value)
        #expect(outcome.logs == [
            ScriptLogEntry(level: "info", message: "charged", fields: ["amount": 10]),
            ScriptLogEntry(level: "warn", message: "careful"),
        ])
        #expect(outcome.events == [EmittedEvent(type: "order.paid", payload: ["id": 7])])
    }

    @Test func invocationTables() async throws {
        let output = await run("return {activity.name, activity.attempt, activity.idempotency_key, activity.run.workflow, steps.fetch.output.n, steps.fetch.status}")
            .value?.output
        #expect(output == ["act", 1, "k-1", "wf", 1, "completed"])
    }

    @Test func randomIsReseededPerExecution() async throws {
        let first = await run("math.randomseed(7); return math.random(1, 1 << 40)").value?.output
        var seen: Set<Value> = []
        for _ in 0..<3 { seen.insert(try #require(await run("return math.random(1, 1 << 40)").value?.output)) }
        #expect(!seen.contains(try #require(first)))
        #expect(seen.count == 3)
    }
}

@Suite struct ErrorMappingTests {
    @Test func errorTextCarriesScriptAndLine() async throws {
        let failure = await run("local x = 1\n\nerror('boom')", firstLine: 1).failure
        #expect(failure == ActivityFailure(.activityError, "boom", script: "test.lua", line: 3))
    }

    @Test func firstLineMapsInlineCode() async throws {
        let failure = await run("local x = 1\nerror('boom')", firstLine: 20).failure
        #expect(failure?.line == 21)
        let typed = await run("local x = 1\n\nerror({type = 'Declined', message = 'no', retryable = false})", firstLine: 10).failure
        #expect(typed == ActivityFailure("Declined", "no", retryable: false, script: "test.lua", line: 12))
        let syntax = await run("local x = \n\n+", firstLine: 5).failure
        #expect(syntax?.line == 7)
        #expect(syntax?.message.hasPrefix("syntax error:") == true)
    }

    @Test func failDetails() async throws {
        let failure = await run("fail('Nope', 'not today', {code = 3})").failure
        #expect(failure?.details == ["code": 3])
        #expect(failure?.message == "not today")
    }
}

@Suite struct TimeoutAndCancellationTests {
    @Test func busyLoopEndsWithTimeout() async throws {
        let limits = ScriptLimits(instructions: .max, timeout: .milliseconds(300))
        let runner = LuaRunner(threads: 1)
        #expect(await run("while true do end", limits: limits, runner: runner).failure?.type == .timeout)
        #expect(await run("while true do pcall(function() while true do end end) end", limits: limits, runner: runner).failure?.type == .timeout)
        #expect(await run(cleanlinessProbe, runner: runner).value?.output == cleanProbeResult)
    }

    @Test func cancellationEndsWithCancelled() async throws {
        let runner = LuaRunner(threads: 1)
        let task = Task { await run("while true do end", limits: ScriptLimits(instructions: .max), runner: runner) }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        #expect(await task.value.failure?.type == .cancelled)
        #expect(await run(cleanlinessProbe, runner: runner).value?.output == cleanProbeResult)
    }
}

@Suite struct ExpressionTests {
    /// Its own runner: expressions have a short default timeout that a busy shared queue would eat.
    let runner = LuaRunner(threads: 1)
    let scope: Value = ["input": ["n": 2, "name": "ada", "tags": ["a", "b"]], "workflow": ["ok": true], "steps": ["s": ["output": ["v": 1.5]]]]

    func evaluate(_ template: ValueTemplate) async -> Result<Value, ActivityFailure> {
        do { return .success(try await runner.evaluate(template, scope: scope)) } catch { return .failure(error) }
    }

    func expr(_ source: String) -> Template.Part { .expression(Expression(source)) }

    @Test func wholeExpressionKeepsItsType() async throws {
        #expect(await evaluate(.template(Template(parts: [expr("input.n * 2")]))).value == .int(4))
        #expect(await evaluate(.template(Template(parts: [expr("input.tags")]))).value == ["a", "b"])
        #expect(await evaluate(.template(Template(parts: [expr("steps.s.output.v")]))).value == .double(1.5))
        #expect(await evaluate(.template(Template(parts: [expr("workflow.ok and not false")]))).value == true)
    }

    @Test func interpolationRendersText() async throws {
        let template = Template(parts: [.literal("hi "), expr("input.name"), .literal(" #"), expr("input.n"), .literal(" "), expr("input.missing"),
                                        .literal("|"), expr("input.tags")])
        #expect(await evaluate(.template(template)).value == #"hi ada #2 |["a","b"]"#)
    }

    @Test func treesAreResolved() async throws {
        let tree = ValueTemplate.object(["a": .template(Template(parts: [expr("input.n + 1")])), "b": .array([.value(1), .value("x")])])
        #expect(await evaluate(tree).value == ["a": 3, "b": [1, "x"]])
    }

    @Test func writesAreViolations() async throws {
        #expect(await evaluate(.template(Template(parts: [expr("rawset(workflow, 'x', 1)")]))).failure?.type == .sandboxViolation)
        #expect(await evaluate(.template(Template(parts: [expr("(function() input.n = 3 end)()")]))).failure?.type == .sandboxViolation)
        #expect(await evaluate(.template(Template(parts: [expr("(function() input.tags[1] = 3 end)()")]))).failure?.type == .sandboxViolation)
    }

    @Test func loopsAreBounded() async throws {
        #expect(await evaluate(.template(Template(parts: [expr("(function() while true do end end)()")]))).failure?.type == .luaInstructionLimit)
    }

    @Test func syntaxChecker() {
        let checker = LuaSyntaxChecker()
        #expect(checker.checkExpression("input.n + 1") == nil)
        #expect(checker.checkExpression("input.n +")?.line == 1)
        #expect(checker.checkChunk("local x = 1\nreturn x", name: "a.lua") == nil)
        let error = checker.checkChunk("local x = 1\n\nif x then", name: "a.lua")
        #expect(error?.line == 3)
        #expect(error?.message.contains("expected") == true)
        #expect(checker.checkChunk("\u{1B}Lua", name: "b.lua") != nil)
    }
}

@Suite struct EditorDefinitionTests {
    /// Every host built-in and invocation global is declared in scripts/moonflow.d.lua, and nothing else
    /// (the allowed parts of Lua's standard library are known to the language server already); the
    /// test-only built-ins are declared after the TEST-ONLY marker, and only there.
    @Test func definitionsMatchTheRegisteredNames() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/moonflow.d.lua")
        let text = try String(contentsOf: file, encoding: .utf8)
        var declared: Set<String> = []
        var testDeclared: Set<String> = []
        var inTestSection = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("-- TEST-ONLY.") { inTestSection = true }
            let words = line.split(separator: " ")
            var name: String?
            if words.first == "function", let function = words.dropFirst().first?.split(separator: "(").first {
                name = String(function)
            } else if words.count >= 2, words[1] == "=", !line.hasPrefix(" "), !line.hasPrefix("-") {
                name = String(words[0])
            }
            if let name { if inTestSection { testDeclared.insert(name) } else { declared.insert(name) } }
        }
        let invocation: Set<String> = ["input", "workflow", "steps", "activity", "event"]
        #expect(invocation.isSubset(of: Set(LuaBuiltins.globals)))
        let registered = Set(LuaBuiltins.hostFunctions).union(invocation)
        let libraries: Set<String> = ["json", "log", "time", "base64", "hex", "hash", "hmac", "http"]
        #expect(registered.subtracting(declared).isEmpty, "missing: \(registered.subtracting(declared).sorted())")
        #expect(declared.subtracting(registered).subtracting(libraries).isEmpty, "extra: \(declared.subtracting(registered).subtracting(libraries).sorted())")
        #expect(testDeclared == Set(LuaBuiltins.testFunctions).union(["test"]), "test-only section: \(testDeclared.sorted())")
    }
}
