package import OrderedCollections
import Synchronization

/// Where a code action runs (docs/sandbox.md): in a thread of the engine, or in a helper process
/// behind the second wall. `resources.isolation` in moonflow.yaml, `isolation:` of a workflow or activity.
package enum ScriptIsolation: String, Sendable, Hashable, CaseIterable {
    case inProcess = "in_process"
    case process
}

/// Limits of one code-action execution (docs/sandbox.md). Each is configurable per activity (`limits:`)
/// and engine-wide (`resources:` in moonflow.yaml).
package struct ScriptLimits: Sendable, Hashable {
    /// Bytes the Lua allocator may hold for user code (`LuaMemoryLimit`).
    package var memory: Int
    /// VM instructions, checked by a count hook (`LuaInstructionLimit`).
    package var instructions: Int
    /// Wall time of the attempt (`Timeout`); `nil` means the runner's default (60s for code
    /// actions, 1s for expressions): no execution runs without one.
    package var timeout: Duration?
    /// Bytes of the encoded output (`SandboxViolation` when exceeded).
    package var outputSize: Int
    /// Bytes of source accepted before parsing.
    package var sourceSize: Int
    /// Nesting depth of values crossing the boundary, both ways.
    package var valueDepth: Int
    /// Bytes of copies the host may hold for one execution outside the Lua allocator (emitted
    /// events, logs, error texts and details, the output, context writes; a built-in's temporary
    /// copy must fit in what remains): `LuaMemoryLimit` beyond.
    package var hostMemory: Int
    /// Where the execution runs; a runner that cannot isolate (`LuaRunner`) runs it in process.
    package var isolation: ScriptIsolation

    package init(
        memory: Int = 64 << 20, instructions: Int = 100_000_000, timeout: Duration? = nil,
        outputSize: Int = 1 << 20, sourceSize: Int = 256 << 10, valueDepth: Int = 64, hostMemory: Int = 16 << 20,
        isolation: ScriptIsolation = .inProcess
    ) {
        self.isolation = isolation
        self.memory = memory
        self.instructions = instructions
        self.timeout = timeout
        self.outputSize = outputSize
        self.sourceSize = sourceSize
        self.valueDepth = valueDepth
        self.hostMemory = hostMemory
    }

    package static let defaults = ScriptLimits()
}

/// Lua source to execute: the text, the name used in error messages and where its first line sits
/// in the file it came from (inline `run:` blocks start inside a YAML file).
package struct ScriptChunk: Sendable, Hashable {
    package let source: String
    /// `scripts/charge.lua`, or `workflows/order.yaml#charge` for inline code.
    package var name: String
    /// Line of the file on which the chunk's line 1 sits (1 for a script file).
    package var firstLine: Int
    /// The entries of `steps` the source can read (found once, here).
    package let stepsUse: StepsUse

    package init(source: String, name: String, firstLine: Int = 1) {
        self.source = source
        self.stepsUse = StepsUse(scanning: source)
        self.name = name
        self.firstLine = firstLine
    }
}

/// What a body runs as: an activity's own body (or its fallback), or the compensation of an activity.
package enum BodyRole: Sendable, Hashable {
    case activity
    case compensation
}

/// Everything one execution of a code action sees (docs/sandbox.md).
package struct ScriptInvocation: Sendable {
    package var chunk: ScriptChunk
    /// Whether the code runs as an activity or as a compensation.
    package var role: BodyRole
    /// `input`: the activity input.
    package var input: Value
    /// `workflow`: the context variables, readable and writable.
    package var context: OrderedDictionary<String, Value>
    /// `steps`: `{name: {output, status}}`, read-only.
    package var steps: Value
    /// `activity`: `{name, attempt, idempotency_key, run: {id, workflow, version}}`.
    package var activity: Value
    /// `event`: the trigger event, when a trigger started the run.
    package var event: Value?
    package var limits: ScriptLimits
    /// Called with each `log.*` entry as the script makes it (on the runtime's thread), within the
    /// per-execution cap: the engine logs it and keeps it for the run's journal, so the entries of
    /// an attempt that fails are not lost with its outcome.
    package var logSink: (@Sendable (ScriptLogEntry) -> Void)?
    /// What `http.request{…}` calls (docs/integrations.md); `nil`: the script has no connections.
    package var http: (any HTTPCalling)?
    /// Stops the execution when requested, for a caller that runs it in its own task, which task
    /// cancellation cannot single out; honoured by runners that say so (`ScriptRunning.honoursStop`).
    package var stop: ScriptStop?
    /// Told, when the execution ends (whether it succeeded or not), what its non-deterministic
    /// built-ins answered, if it called any (`ScriptRecording`).
    package var recordingSink: (@Sendable (ScriptRecording) -> Void)?
    /// A replay of a recorded execution: the built-ins answer what they answered then, in order
    /// (`http.request` reaches no service), and one called more often than recorded fails.
    package var replay: ScriptRecording?

    package init(
        chunk: ScriptChunk, input: Value = .object([:]), context: OrderedDictionary<String, Value> = [:],
        steps: Value = .object([:]), activity: Value = .object([:]), event: Value? = nil,
        limits: ScriptLimits = .defaults, role: BodyRole = .activity, logSink: (@Sendable (ScriptLogEntry) -> Void)? = nil,
        http: (any HTTPCalling)? = nil
    ) {
        self.logSink = logSink
        self.http = http
        self.chunk = chunk
        self.role = role
        self.input = input
        self.context = context
        self.steps = steps
        self.activity = activity
        self.event = event
        self.limits = limits
    }
}

/// One `log.*` call made by a script.
package struct ScriptLogEntry: Sendable, Hashable {
    /// The levels `call: log` accepts: swift-log's, plus `warn` (as `log.warn` spells it), which
    /// means `warning`. A script's entries carry `debug`, `info`, `warn` or `error`.
    package static let levels = ["trace", "debug", "info", "notice", "warn", "warning", "error", "critical"]

    package var level: String
    package var message: String
    package var fields: Value
    package init(level: String, message: String, fields: Value = .object([:])) {
        self.level = level
        self.message = message
        self.fields = fields
    }
}

/// One `emit(type, payload)` call made by a script.
package struct EmittedEvent: Sendable, Hashable {
    package var type: String
    package var payload: Value
    package init(type: String, payload: Value) {
        self.type = type
        self.payload = payload
    }
}

/// The result of a successful execution. Context writes and emitted events are returned apart
/// from the output so the engine commits them only with the activity's completion.
package struct ScriptOutcome: Sendable, Hashable {
    package var output: Value
    /// Keys assigned in `workflow.*` with their new values (`null` for a key set to nil).
    package var contextWrites: OrderedDictionary<String, Value>
    package var logs: [ScriptLogEntry]
    package var events: [EmittedEvent]

    package init(
        output: Value, contextWrites: OrderedDictionary<String, Value> = [:], logs: [ScriptLogEntry] = [],
        events: [EmittedEvent] = []
    ) {
        self.output = output
        self.contextWrites = contextWrites
        self.logs = logs
        self.events = events
    }
}

/// What the engine needs from a code-action runtime. The Lua sandbox implements it in process, the
/// sandbox helpers in helper processes (`ScriptLimits.isolation` chooses). Cancelling the calling
/// task stops the execution.
package protocol ScriptRunning: Sendable {
    /// Runs a code action. Failures are typed (`ActivityError`, user types, `Timeout`, `Lua…Limit`,
    /// `SandboxViolation`, `Cancelled`).
    func run(_ invocation: ScriptInvocation) async throws(ActivityFailure) -> ScriptOutcome

    /// Evaluates a value template read-only: `scope` is an object whose members (`input`, `workflow`,
    /// `steps`, `event`, `run`, `output`, `error`) are the names visible to expressions.
    func evaluate(_ template: ValueTemplate, scope: Value) async throws(ActivityFailure) -> Value

    /// Whether executions stop when their `ScriptInvocation.stop` is requested, as they stop when
    /// the calling task is cancelled.
    var honoursStop: Bool { get }

    /// An executor for the task that drives a run to prefer, so its steps and their scripts run
    /// where scripts run, without hand-offs between threads; `nil` for none.
    func taskExecutor() -> (any TaskExecutor)?
}

extension ScriptRunning {
    package var honoursStop: Bool { false }
    package func taskExecutor() -> (any TaskExecutor)? { nil }
}

/// A stop request for the executions a task runs in place, one at a time: once requested, the
/// current execution is told at once and any later one at its start.
package final class ScriptStop: Sendable {
    private struct State {
        var requested = false
        var onRequest: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    package init() {}

    package var isRequested: Bool { state.withLock { $0.requested } }

    package func request() {
        let handler = state.withLock { state in
            state.requested = true
            defer { state.onRequest = nil }
            return state.onRequest
        }
        handler?()
    }

    /// Calls `handler` when a stop is requested, until `uninstall`; returns whether one was
    /// requested already (the handler is then not kept: the caller stops at once).
    package func install(_ handler: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            if !state.requested { state.onRequest = handler }
            return state.requested
        }
    }

    package func uninstall() { state.withLock { $0.onRequest = nil } }
}
