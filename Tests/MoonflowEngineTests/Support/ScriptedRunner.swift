import MoonflowEngine
import MoonflowModel
import OrderedCollections
import Synchronization

/// A script body in tests: what a Lua chunk of this name does.
typealias ScriptBody = @Sendable (ScriptInvocation) async throws(ActivityFailure) -> ScriptOutcome

/// A `ScriptRunning` whose scripts are Swift closures keyed by chunk name, and whose expressions
/// are a small subset (paths, literals, `not`, `==`, `~=`): enough to test the engine without Lua.
final class ScriptedRunner: ScriptRunning {
    private let scripts: [String: ScriptBody]
    private let started = Mutex<[String]>([])
    private let concurrency = Mutex<(now: Int, max: Int)>((0, 0))

    init(_ scripts: [String: ScriptBody] = [:]) { self.scripts = scripts }

    /// `name#attempt` of every execution, in the order they started.
    var executions: [String] { started.withLock { $0 } }
    /// The most executions that ran at once.
    var maxConcurrent: Int { concurrency.withLock { $0.max } }

    func run(_ invocation: ScriptInvocation) async throws(ActivityFailure) -> ScriptOutcome {
        let attempt = invocation.activity["attempt"]?.intValue ?? 0
        started.withLock { $0.append("\(invocation.chunk.name)#\(attempt)") }
        concurrency.withLock { c in
            c.now += 1
            c.max = max(c.max, c.now)
        }
        defer { concurrency.withLock { $0.now -= 1 } }
        guard let script = scripts[invocation.chunk.name] else { return ScriptOutcome(output: invocation.input) }
        return try await script(invocation)
    }

    func evaluate(_ template: ValueTemplate, scope: Value) async throws(ActivityFailure) -> Value {
        switch template {
        case .value(let value): return value
        case .array(let items):
            var values: [Value] = []
            for item in items { values.append(try await evaluate(item, scope: scope)) }
            return .array(values)
        case .object(let members):
            var object: OrderedDictionary<String, Value> = [:]
            for (key, item) in members { object[key] = try await evaluate(item, scope: scope) }
            return .object(object)
        case .template(let template):
            if let whole = template.wholeExpression { return try Self.expression(whole.source, scope) }
            var text = ""
            for part in template.parts {
                switch part {
                case .literal(let literal): text += literal
                case .expression(let e):
                    let value = try Self.expression(e.source, scope)
                    text += value.stringValue ?? value.jsonString()
                }
            }
            return .string(text)
        }
    }

    private static func expression(_ source: String, _ scope: Value) throws(ActivityFailure) -> Value {
        let source = source.trimmingCharacters(in: .whitespaces)
        if source.hasPrefix("not ") { return .bool(!(try expression(String(source.dropFirst(4)), scope)).isTruthy) }
        for op in ["~=", "=="] {
            if let range = source.range(of: " \(op) ") {
                let left = try expression(String(source[..<range.lowerBound]), scope)
                let right = try expression(String(source[range.upperBound...]), scope)
                return .bool((left == right) == (op == "=="))
            }
        }
        switch source {
        case "true": return true
        case "false": return false
        case "nil": return .null
        default: break
        }
        if let int = Int64(source) { return .int(int) }
        if source.hasPrefix("'") || source.hasPrefix("\"") { return .string(String(source.dropFirst().dropLast())) }
        var value = scope
        for key in source.split(separator: ".") {
            guard case .object = value else {
                throw ActivityFailure(.activityError, "attempt to index a \(value.typeName) value (\(source))")
            }
            value = value[String(key)] ?? .null
        }
        return value
    }
}

/// A one-shot signal tests open to let a blocked body go on.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { s in
                if !s.open { s.waiters.append(continuation) }
                return s.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { s in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Returns once `count` callers have arrived: proves that they run at the same time.
final class Rendezvous: Sendable {
    private let arrived = Mutex(0)
    private let gate = Gate()
    private let count: Int

    init(_ count: Int) { self.count = count }

    func arrive() async {
        if arrived.withLock({ n in n += 1; return n }) >= count { gate.open() }
        await gate.wait()
    }
}
