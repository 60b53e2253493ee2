internal import CLua
internal import CLuaSupport
package import MoonflowModel
import OrderedCollections

/// One sandboxed Lua state, used by one thread at a time (the runner's pool owns one per thread;
/// tools and benchmarks may own one directly).
///
/// Isolation between executions: the state is reused, but every execution gets a fresh
/// environment whose reads fall through a locked metatable to an allow-listed template; shared
/// library tables are read-only proxies; the random seed is reset; a state whose limits tripped is
/// never used again (`isUsable`). See docs/sandbox.md for the measurement behind this choice.
package final class LuaSandbox {
    let L: OpaquePointer
    private let host: LuaHost
    private var chunks: [String: Int32] = [:]
    private var expressions: [String: Int32] = [:]
    /// The last chunk and expression looked up, checked before the dictionaries: the engine runs
    /// the same definition's source (the same string storage) again and again, and comparing a
    /// string with itself is a pointer check where hashing reads every byte. Keyed by the source
    /// like the dictionaries, so a changed source never finds a stale function.
    private var lastChunk: CachedFunction?
    private var lastExpression: CachedFunction?
    /// The bindings blob of the current execution (its storage is reused from one to the next).
    private var blob = LuaValueEncoder(maxDepth: ScriptLimits.defaults.valueDepth, capacity: 256)

    private struct CachedFunction {
        var source: String
        var ref: Int32
    }
    /// Compiled functions kept per state before the cache is flushed.
    private static let cacheCapacity = 256
    /// Host buffers an execution grew beyond this are released when it ends.
    private static let keptBuffer = 1 << 20
    /// Bytes of an error's `details` kept (bigger details are dropped).
    static let maxErrorDetails = 64 << 10

    /// False once a limit tripped or the sandbox was violated: the state must be discarded.
    package private(set) var isUsable = true

    /// - Parameter testLedger: registers the test-only `test.ledger(tag)` (crash tests); `test` is
    ///   `nil` without it.
    package init(testLedger: LuaTestLedger? = nil) throws(ActivityFailure) {
        let host = LuaHost(testLedger: testLedger)
        guard let state = mf_open(luaHostEntry, Unmanaged.passUnretained(host).toOpaque(), testLedger == nil ? 0 : 1) else {
            throw ActivityFailure(.workerCrashed, "could not create a Lua state")
        }
        self.host = host
        self.L = state
    }

    deinit { mf_close(L) }

    // MARK: Code actions

    /// Runs a code action synchronously on the calling thread (without a timeout of its own, under
    /// `LuaRunner.defaultTimeout`).
    package func run(_ invocation: ScriptInvocation) throws(ActivityFailure) -> ScriptOutcome {
        var invocation = invocation
        let timeout = invocation.limits.timeout ?? LuaRunner.defaultTimeout
        invocation.limits.timeout = timeout
        return try run(invocation, interrupt: nil, deadline: LuaClock.deadline(after: timeout))
    }

    func run(_ invocation: ScriptInvocation, interrupt: LuaInterrupt?, deadline: UInt64?) throws(ActivityFailure)
        -> ScriptOutcome
    {
        let chunk = invocation.chunk
        let limits = invocation.limits
        try checkStart(interrupt: interrupt, deadline: deadline, limits: limits, script: chunk.name)
        defer { lua_settop(L, 0) }
        mf_set_limits(L, limits.memory, Int64(limits.instructions), deadline ?? 0, interrupt?.flag)
        let ref = try compiled(chunk.source, expression: false, limits: limits) { line, message in
            ActivityFailure(.activityError, "syntax error: \(message)", script: chunk.name, line: line.map { $0 + chunk.firstLine - 1 })
        }

        try prepare(maxDepth: limits.valueDepth) { blob throws(ActivityFailure) in try Self.encodeBindings(of: invocation, into: &blob) }
        defer { mf_finish(L) }
        host.begin(
            valueDepth: limits.valueDepth, activity: invocation.activity, hostBudget: limits.hostMemory, logSink: invocation.logSink,
            http: invocation.http, replay: invocation.replay)
        defer { host.trim(L, keep: Self.keptBuffer) }
        if let replay = invocation.replay {
            let words = replay.seeds.flatMap { $0 }
            guard words.withUnsafeBufferPointer({ mf_replay_seeds(L, $0.baseAddress, Int32(replay.seeds.count)) }) != 0 else {
                throw ActivityFailure(.sandboxViolation, "replay: more recorded random seeds than a script can draw", script: chunk.name)
            }
        }
        defer { if let sink = invocation.recordingSink { record(into: sink) } }
        let status = mf_run(L, ref)
        try checkTrip(limits: limits, script: chunk.name, firstLine: chunk.firstLine)
        guard status == LUA_OK else {
            throw failure(status: status, script: chunk.name, firstLine: chunk.firstLine)
        }
        var outputReader = LuaValueReader(L, root: "output", maxDepth: limits.valueDepth, maxSize: limits.outputSize, budget: host.hostRemaining)
        let output = try outputReader.read(-1)
        host.hold(outputReader.size)
        return ScriptOutcome(output: output, contextWrites: try contextWrites(invocation, script: chunk.name), logs: host.logs, events: host.events)
    }

    /// Tells `sink` what the execution's non-deterministic built-ins answered, if it called any.
    private func record(into sink: @Sendable (ScriptRecording) -> Void) {
        var recording = host.recording
        // How many seeds were drawn, copying none: most executions draw none and call nothing
        // recorded, and then nothing is allocated.
        let drawnAtAll = Int(mf_recorded_seeds(L, nil, 0))
        if drawnAtAll == 0, recording.isEmpty { return }
        var words = [UInt64](repeating: 0, count: 2 * ScriptRecording.maxSeeds)
        let drawn = Int(words.withUnsafeMutableBufferPointer { mf_recorded_seeds(L, $0.baseAddress, Int32(ScriptRecording.maxSeeds)) })
        for index in 0..<min(drawn, ScriptRecording.maxSeeds) { recording.seeds.append([words[2 * index], words[2 * index + 1]]) }
        if drawn > ScriptRecording.maxSeeds { recording.truncated = true }
        if !recording.isEmpty { sink(recording) }
    }

    /// The invocation's names (docs/sandbox.md). `input` is built with the environment: nearly every
    /// script reads it, and building it at first use costs a metamethod miss and a protected call.
    /// The others are built at first use; an untouched `workflow` is known unchanged.
    private static func encodeBindings(of invocation: ScriptInvocation, into blob: inout LuaValueEncoder) throws(ActivityFailure) {
        blob.count(invocation.event == nil ? 4 : 5)
        try blob.binding("input", invocation.input, flags: MF_BINDING_EAGER, path: "input")
        try blob.binding("workflow", object: invocation.context, flags: 0, path: "workflow")
        try blob.binding("steps", invocation.steps, flags: MF_BINDING_READ_ONLY, path: "steps")
        try blob.binding("activity", invocation.activity, flags: MF_BINDING_READ_ONLY, path: "activity")
        if let event = invocation.event { try blob.binding("event", event, flags: MF_BINDING_READ_ONLY, path: "event") }
    }

    /// The context writes of a successful run; none without reading back when the script never
    /// touched `workflow`.
    private func contextWrites(_ invocation: ScriptInvocation, script: String) throws(ActivityFailure) -> OrderedDictionary<String, Value> {
        switch mf_push_workflow(L) {
        case 0: return [:]
        case 1: break
        default: throw ActivityFailure(.workerCrashed, "the Lua stack cannot grow", script: script)
        }
        guard lua_type(L, -1) == LUA_TTABLE else {
            throw ActivityFailure(.sandboxViolation, "workflow: must remain a table", script: script)
        }
        var reader = LuaValueReader(
            L, root: "workflow", maxDepth: invocation.limits.valueDepth, maxSize: invocation.limits.outputSize, budget: host.hostRemaining)
        let final = try reader.read(-1)
        host.hold(reader.size)
        return Self.contextWrites(from: invocation.context, to: final)
    }

    /// Keys whose value changed (or `null` for removed keys), comparing as Lua sees values.
    static func contextWrites(from original: OrderedDictionary<String, Value>, to final: Value) -> OrderedDictionary<String, Value> {
        guard case .object(let members) = final else { return [:] }
        var writes: OrderedDictionary<String, Value> = [:]
        for (key, value) in members where !luaEquivalent(original[key] ?? .null, value) { writes[key] = value }
        for (key, value) in original where members[key] == nil && !value.isNull { writes[key] = .null }
        return writes
    }

    /// Equality after a trip through Lua: `null` members vanish and an empty array reads back as `{}`.
    static func luaEquivalent(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { luaEquivalent($0, $1) }
        case (.array(let x), .object(let y)), (.object(let y), .array(let x)):
            return x.isEmpty && y.isEmpty
        case (.object(let x), .object(let y)):
            let xs = x.filter { !$0.value.isNull }
            let ys = y.filter { !$0.value.isNull }
            return xs.count == ys.count && xs.allSatisfy { key, value in ys[key].map { luaEquivalent(value, $0) } ?? false }
        default:
            return a == b
        }
    }

    // MARK: Expressions

    /// Evaluates a value template read-only (docs/expressions.md): a whole-scalar `${ }` keeps its type; inside a
    /// longer string each value is interpolated as text (`nil` as nothing, tables as compact JSON).
    package func evaluate(_ template: ValueTemplate, scope: Value, limits: ScriptLimits) throws(ActivityFailure) -> Value {
        var limits = limits
        let timeout = limits.timeout ?? LuaRunner.defaultExpressionLimits.timeout ?? .seconds(1)
        limits.timeout = timeout
        return try evaluate(template, scope: scope, limits: limits, interrupt: nil, deadline: LuaClock.deadline(after: timeout))
    }

    func evaluate(_ template: ValueTemplate, scope: Value, limits: ScriptLimits, interrupt: LuaInterrupt?, deadline: UInt64?)
        throws(ActivityFailure) -> Value
    {
        if case .value(let value) = template { return value }
        try checkStart(interrupt: interrupt, deadline: deadline, limits: limits, script: "expression")
        defer { lua_settop(L, 0) }
        mf_set_limits(L, limits.memory, Int64(limits.instructions), deadline ?? 0, interrupt?.flag)
        try prepare(maxDepth: limits.valueDepth) { blob throws(ActivityFailure) in try Self.encodeScope(scope, into: &blob) }
        defer { mf_finish(L) }
        host.begin(valueDepth: limits.valueDepth, activity: nil, hostBudget: limits.hostMemory)
        defer { host.trim(L, keep: Self.keptBuffer) }
        return try resolve(template, limits: limits)
    }

    /// The names visible to expressions, all read-only.
    private static func encodeScope(_ scope: Value, into blob: inout LuaValueEncoder) throws(ActivityFailure) {
        let members = scope.objectValue ?? [:]
        blob.count(members.count)
        for (name, value) in members {
            // A lazy binding is found only where the globals have no such name: one that shadows a
            // global (`error` in a compensation's or fallback's scope) is built into the environment now.
            let flags = globalNames.contains(name) ? MF_BINDING_READ_ONLY | MF_BINDING_EAGER : MF_BINDING_READ_ONLY
            try blob.binding(named: name, value, flags: flags, path: name)
        }
    }

    /// Base functions an expression sees as globals (CLuaSupport's `base_kept` and `base_replaced`).
    private static let globalNames: Set<String> = [
        "assert", "error", "ipairs", "pcall", "select", "type", "rawequal", "rawlen", "rawget", "getmetatable", "next", "pairs",
        "tostring", "rawset", "setmetatable", "collectgarbage", "xpcall", "tonumber",
    ]

    private func resolve(_ template: ValueTemplate, limits: ScriptLimits) throws(ActivityFailure) -> Value {
        switch template {
        case .value(let value): return value
        case .array(let items):
            var values: [Value] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try resolve(item, limits: limits)) }
            return .array(values)
        case .object(let members):
            var values: OrderedDictionary<String, Value> = [:]
            for (key, member) in members { values[key] = try resolve(member, limits: limits) }
            return .object(values)
        case .template(let text):
            if let whole = text.wholeExpression { return try evaluate(whole, limits: limits) }
            var rendered = ""
            for part in text.parts {
                switch part {
                case .literal(let literal): rendered += literal
                case .expression(let expression): rendered += Self.interpolation(of: try evaluate(expression, limits: limits))
                }
            }
            return .string(rendered)
        }
    }

    /// How a value reads inside a longer string.
    static func interpolation(of value: Value) -> String {
        switch value {
        case .null: ""
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): "\(d)"
        case .string(let s): s
        case .array, .object: value.jsonString(sortedKeys: true)
        }
    }

    private func evaluate(_ expression: Expression, limits: ScriptLimits) throws(ActivityFailure) -> Value {
        let location = expression.location
        // What errors name; built only when one is reported.
        var script: String { location == .unknown ? "${ \(expression.source) }" : location.file }
        let lineOffset = location == .unknown ? nil : location.line
        let ref = try compiled(expression.source, expression: true, limits: limits) { line, message in
            let lastLine = expression.source.utf8.reduce(1) { $1 == 10 ? $0 + 1 : $0 }
            return ActivityFailure(.activityError, "syntax error in expression: \(message)", script: script,
                                   line: lineOffset.map { $0 + min(line ?? 1, lastLine) - 1 })
        }
        let status = mf_run(L, ref)
        try checkTrip(limits: limits, script: script, firstLine: lineOffset ?? 1)
        guard status == LUA_OK else { throw failure(status: status, script: script, firstLine: lineOffset ?? 1) }
        defer { lua_settop(L, 0) }
        var reader = LuaValueReader(L, root: "expression", maxDepth: limits.valueDepth, maxSize: limits.outputSize, budget: host.hostRemaining)
        let value = try reader.read(-1)
        host.hold(reader.size)
        return value
    }

    // MARK: Steps shared by both

    private func checkStart(interrupt: LuaInterrupt?, deadline: UInt64?, limits: ScriptLimits, script: String) throws(ActivityFailure) {
        guard isUsable else { throw ActivityFailure(.workerCrashed, "this Lua state was discarded after a tripped limit") }
        if let interrupt, interrupt.isCancelled { throw ActivityFailure(.cancelled, "cancelled", script: script) }
        if let deadline, LuaClock.now >= deadline { throw timeoutFailure(limits, script: script, line: nil) }
    }

    /// Encodes the environment's bindings into the reused blob (one access to it) and hands it
    /// to C for the next `mf_run`. The blob must not change until `mf_finish`: C builds each lazy
    /// binding from it when the script first uses it.
    private func prepare(maxDepth: Int, _ encode: (inout LuaValueEncoder) throws(ActivityFailure) -> Void) throws(ActivityFailure) {
        try Self.prepare(L, &blob, maxDepth: maxDepth, encode)
    }

    private static func prepare(
        _ L: OpaquePointer, _ blob: inout LuaValueEncoder, maxDepth: Int, _ encode: (inout LuaValueEncoder) throws(ActivityFailure) -> Void
    ) throws(ActivityFailure) {
        blob.reset(maxDepth: maxDepth)
        try encode(&blob)
        guard blob.withBytes({ bytes, count in mf_prepare(L, bytes, count) }) != 0 else {
            throw ActivityFailure(.workerCrashed, "malformed environment encoding")
        }
    }

    /// The registry reference of compiled source, from the per-state cache.
    private func compiled(
        _ source: String, expression: Bool, limits: ScriptLimits,
        syntaxError: (_ line: Int?, _ message: String) -> ActivityFailure
    ) throws(ActivityFailure) -> Int32 {
        if let last = expression ? lastExpression : lastChunk, last.source == source { return last.ref }
        let ref = try lookUpOrCompile(source, expression: expression, limits: limits, syntaxError: syntaxError)
        let cached = CachedFunction(source: source, ref: ref)
        if expression { lastExpression = cached } else { lastChunk = cached }
        return ref
    }

    private func lookUpOrCompile(
        _ source: String, expression: Bool, limits: ScriptLimits,
        syntaxError: (_ line: Int?, _ message: String) -> ActivityFailure
    ) throws(ActivityFailure) -> Int32 {
        if let ref = expression ? expressions[source] : chunks[source] { return ref }
        guard source.utf8.count <= limits.sourceSize else {
            throw ActivityFailure(.sandboxViolation, "source of \(source.utf8.count) bytes exceeds the limit of \(limits.sourceSize) bytes")
        }
        var text = source
        let ref = text.withUTF8 { mf_compile(L, $0.baseAddress, $0.count, expression ? 1 : 0) }
        guard ref != 0 else {
            try checkTrip(limits: limits, script: nil, firstLine: 1)
            let message = lua_type(L, -1) == LUA_TSTRING ? String(decoding: LuaValueReader.bytes(L, -1), as: UTF8.self) : "compilation failed"
            lua_settop(L, 0)
            let (line, text) = Self.splitPosition(message)
            throw syntaxError(line, text)
        }
        if chunks.count + expressions.count >= Self.cacheCapacity {
            for old in chunks.values { mf_unref(L, old) }
            for old in expressions.values { mf_unref(L, old) }
            chunks = [:]
            expressions = [:]
            lastChunk = nil
            lastExpression = nil
        }
        if expression { expressions[source] = ref } else { chunks[source] = ref }
        return ref
    }

    /// Splits "chunk:12: message" into the line and the message.
    static func splitPosition(_ message: Substring) -> (Int?, String) {
        let prefix = "chunk:"
        guard message.hasPrefix(prefix) else { return (nil, String(message)) }
        let rest = message.dropFirst(prefix.count)
        guard let colon = rest.firstIndex(of: ":"), let line = Int(rest[..<colon]) else { return (nil, String(message)) }
        return (line, String(rest[rest.index(after: colon)...].drop(while: { $0 == " " })))
    }

    static func splitPosition(_ message: String) -> (Int?, String) { splitPosition(message[...]) }

    private func timeoutFailure(_ limits: ScriptLimits, script: String?, line: Int?) -> ActivityFailure {
        let limit = limits.timeout.map { " of \($0)" } ?? ""
        return ActivityFailure(.timeout, "script exceeded its timeout\(limit)", script: script, line: line)
    }

    /// Throws the typed failure of a tripped state (and marks it unusable).
    private func checkTrip(limits: ScriptLimits, script: @autoclosure () -> String?, firstLine: Int) throws(ActivityFailure) {
        let reason = Int(mf_tripped(L))
        guard reason != MF_TRIP_NONE else { return }
        isUsable = false
        let luaLine = Int(mf_error_line(L))
        let line = luaLine > 0 ? luaLine + firstLine - 1 : nil
        lua_settop(L, 0)
        let script = script()
        switch reason {
        case MF_TRIP_MEMORY:
            throw ActivityFailure(.luaMemoryLimit, "memory limit of \(Self.bytes(limits.memory)) exceeded", script: script, line: line)
        case MF_TRIP_INSTRUCTIONS:
            throw ActivityFailure(.luaInstructionLimit, "instruction limit of \(limits.instructions) exceeded", script: script, line: line)
        case MF_TRIP_TIMEOUT:
            throw timeoutFailure(limits, script: script, line: line)
        case MF_TRIP_CANCELLED:
            throw ActivityFailure(.cancelled, "cancelled", script: script, line: line)
        case MF_TRIP_PATTERN:
            throw ActivityFailure(.luaPatternBudget, String(cString: mf_trip_message(L)), script: script, line: line)
        case MF_TRIP_HOST_MEMORY:
            throw ActivityFailure(.luaMemoryLimit, String(cString: mf_trip_message(L)), script: script, line: line)
        default:
            throw ActivityFailure(.sandboxViolation, String(cString: mf_trip_message(L)), script: script, line: line)
        }
    }

    static func bytes(_ count: Int) -> String {
        count % (1 << 20) == 0 ? "\(count >> 20)MB" : count % 1024 == 0 ? "\(count >> 10)KB" : "\(count) bytes"
    }

    /// The failure for an error object left by `mf_run`, read with raw access only.
    private func failure(status: Int32, script: String, firstLine: Int) -> ActivityFailure {
        let luaLine = Int(mf_error_line(L))
        var line: Int? = luaLine > 0 ? luaLine + firstLine - 1 : nil
        if status == LUA_ERRMEM {
            return ActivityFailure(.luaMemoryLimit, "out of memory", script: script, line: line)
        }
        switch lua_type(L, -1) {
        case LUA_TSTRING:
            // Cut before the copy: an error text can be as long as the memory limit allows.
            let bytes = LuaValueReader.bytes(L, -1)
            var text = String(decoding: bytes.prefix(min(LuaHost.maxErrorText, max(256, host.hostRemaining))), as: UTF8.self)
            if bytes.count > LuaHost.maxErrorText { text += "… (\(bytes.count) bytes)" }
            host.hold(min(bytes.count, LuaHost.maxErrorText))
            let (position, message) = Self.splitPosition(text)
            if let position { line = position + firstLine - 1 }
            return ActivityFailure(.activityError, message, script: script, line: line)
        case LUA_TTABLE:
            return errorTable(script: script, line: line)
        default:
            let typeName = String(cString: lua_typename(L, lua_type(L, -1)))
            return ActivityFailure(.activityError, "(error object is a \(typeName) value)", script: script, line: line)
        }
    }

    /// `error({type = …, message = …, retryable = …, details = …})`, validated field by field.
    private func errorTable(script: String, line: Int?) -> ActivityFailure {
        func field(_ key: Int32) -> Int32 {
            mf_push_key(L, key)
            return lua_rawget(L, -2)
        }
        var type = ErrorType.activityError
        var message = "(error object is a table value)"
        var retryable: Bool?
        var details: Value?
        if field(Int32(MF_KEY_TYPE)) == LUA_TSTRING, LuaValueReader.bytes(L, -1).count <= 64,
            let text = String(validating: LuaValueReader.bytes(L, -1), as: UTF8.self), Self.isValidErrorType(text)
        {
            if ReservedErrorTypes.contains(text) {
                mflua_pop(L, 1)
                return ActivityFailure(.sandboxViolation, "error type '\(text)' is reserved for the engine", script: script, line: line)
            }
            type = ErrorType(text)
            message = text
        }
        mflua_pop(L, 1)
        if field(Int32(MF_KEY_MESSAGE)) == LUA_TSTRING {
            message = String(decoding: LuaValueReader.bytes(L, -1).prefix(4096), as: UTF8.self)
        }
        mflua_pop(L, 1)
        if field(Int32(MF_KEY_RETRYABLE)) == LUA_TBOOLEAN { retryable = lua_toboolean(L, -1) != 0 }
        mflua_pop(L, 1)
        if field(Int32(MF_KEY_DETAILS)) != LUA_TNIL {
            var reader = LuaValueReader(L, root: "details", maxDepth: 16, maxSize: Self.maxErrorDetails, budget: host.hostRemaining)
            details = try? reader.read(-1)
            host.hold(reader.size)
        }
        mflua_pop(L, 1)
        return ActivityFailure(type, message, retryable: retryable, details: details, script: script, line: line)
    }

    /// A type name users may raise: 1–64 characters of letters, digits, `_`, `.`, `-`.
    static func isValidErrorType(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { $0 == 95 || $0 == 46 || $0 == 45 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
    }
}

/// The C entry of host calls: forwards to the sandbox's `LuaHost` (never raises).
private let luaHostEntry: mf_host_fn = { host, L, fid, nargs in
    guard let host, let L else { return Int32(MF_HOST_RAISE_MESSAGE) }
    return Unmanaged<LuaHost>.fromOpaque(host).takeUnretainedValue().call(L, fid, nargs)
}
