/// The type of a failure (docs/workflow-format.md). Retries and fallbacks match on the type, never on the message.
/// User code may raise any type name; the engine's own are listed here.
package struct ErrorType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    package var rawValue: String
    package init(rawValue: String) { self.rawValue = rawValue }
    package init(_ rawValue: String) { self.rawValue = rawValue }
    package init(stringLiteral value: String) { self.rawValue = value }
    package var description: String { rawValue }

    package static let activityError: ErrorType = "ActivityError"
    package static let timeout: ErrorType = "Timeout"
    package static let activityTimeout: ErrorType = "ActivityTimeout"
    package static let workerCrashed: ErrorType = "WorkerCrashed"
    /// The helper process running a code action died or was killed (docs/sandbox.md): an
    /// interruption like `WorkerCrashed`.
    package static let sandboxCrashed: ErrorType = "SandboxCrashed"
    package static let circuitOpen: ErrorType = "CircuitOpen"
    package static let bulkheadFull: ErrorType = "BulkheadFull"
    package static let bulkheadTimeout: ErrorType = "BulkheadTimeout"
    package static let queueFull: ErrorType = "QueueFull"
    package static let queueTimeout: ErrorType = "QueueTimeout"
    package static let manualTaskTimeout: ErrorType = "ManualTaskTimeout"
    package static let cancelled: ErrorType = "Cancelled"
    package static let sandboxViolation: ErrorType = "SandboxViolation"
    package static let luaMemoryLimit: ErrorType = "LuaMemoryLimit"
    package static let luaInstructionLimit: ErrorType = "LuaInstructionLimit"
    package static let luaPatternBudget: ErrorType = "LuaPatternBudget"
    package static let schemaInvalid: ErrorType = "SchemaInvalid"
    package static let compensationFailed: ErrorType = "CompensationFailed"
    package static let storageFull: ErrorType = "StorageFull"
    package static let storageBusy: ErrorType = "StorageBusy"
    /// A service answered with a status outside 2xx (docs/integrations.md).
    package static let httpError: ErrorType = "HttpError"
    /// DNS, a refused connection or TLS: the request never reached the service.
    package static let httpConnectError: ErrorType = "HttpConnectError"
    /// A request to a host or an address the connection does not allow.
    package static let egressDenied: ErrorType = "EgressDenied"
    /// A response body over the connection's `max_response_size`.
    package static let responseTooLarge: ErrorType = "ResponseTooLarge"

    /// Whether a failure of this type interrupted its attempt rather than used it (docs/resilience.md):
    /// re-run at once, counted against `max_interruptions`.
    package var isInterruption: Bool { self == .workerCrashed || self == .sandboxCrashed }

    /// Types never retried unless a policy's `retry_on` names them explicitly.
    package static let notRetriedByDefault: Set<ErrorType> = [.sandboxViolation, .schemaInvalid, .cancelled]
}

/// A typed failure of an activity, a script, an expression or a run.
///
/// Its message is always in `SafeText.errorMessage` form (control characters escaped, at most
/// 8 KB, marked when cut), whoever builds or changes it: a failure is stored in the journal,
/// logged, put in reports and returned by the API, and a script decides what its message holds.
/// The type and script name get the same treatment with tighter caps.
package struct ActivityFailure: Error, Sendable, Hashable, CustomStringConvertible {
    package var type: ErrorType {
        get { storedType }
        set { storedType = Self.safeType(newValue) }
    }
    package var message: String {
        get { storedMessage }
        set { storedMessage = SafeText.errorMessage(newValue) }
    }
    /// `false` when the raiser said `retryable = false`; `nil` leaves the decision to the policy.
    package var retryable: Bool?
    package var details: Value?
    /// Where it was raised: script name (or file) and line, when known.
    package var script: String? {
        get { storedScript }
        set { storedScript = newValue.map { SafeText.errorMessage($0, limit: Self.nameLimit) } }
    }
    package var line: Int?
    /// The earliest the next attempt may start after this failure (a service's `Retry-After`, capped
    /// by its connection's `retry_after_max`): the retry waits at least this long, whatever the
    /// backoff says. Not journaled: the time of the next attempt is.
    package var retryAfter: Duration?
    /// `false` for a failure retried only when a policy's `retry_on` names its type (an HTTP 4xx
    /// other than 429); `retryable = false` and `non_retryable` still win.
    package var retriedByDefault: Bool

    private var storedType: ErrorType
    private var storedMessage: String
    private var storedScript: String?

    /// The most UTF-8 bytes of a type or a script name.
    static let nameLimit = 256

    package init(
        _ type: ErrorType, _ message: String, retryable: Bool? = nil, details: Value? = nil,
        script: String? = nil, line: Int? = nil, retryAfter: Duration? = nil, retriedByDefault: Bool = true
    ) {
        self.storedType = Self.safeType(type)
        self.storedMessage = SafeText.errorMessage(message)
        self.retryable = retryable
        self.details = details
        self.storedScript = script.map { SafeText.errorMessage($0, limit: Self.nameLimit) }
        self.line = line
        self.retryAfter = retryAfter
        self.retriedByDefault = retriedByDefault
    }

    private static func safeType(_ type: ErrorType) -> ErrorType {
        let safe = SafeText.errorMessage(type.rawValue, limit: nameLimit)
        return safe == type.rawValue ? type : ErrorType(safe)
    }

    package var description: String {
        var where_ = ""
        if let script { where_ = line.map { " (\(script):\($0))" } ?? " (\(script))" }
        return "\(type): \(message)\(where_)"
    }
}
