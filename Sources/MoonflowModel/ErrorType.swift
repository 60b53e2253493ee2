/// The type of a failure (docs/workflow-format.md). Retries and fallbacks match on the type, never on the message.
/// User code may raise any type name; the engine's own are listed here.
public struct ErrorType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public static let activityError: ErrorType = "ActivityError"
    public static let timeout: ErrorType = "Timeout"
    public static let activityTimeout: ErrorType = "ActivityTimeout"
    public static let workerCrashed: ErrorType = "WorkerCrashed"
    public static let circuitOpen: ErrorType = "CircuitOpen"
    public static let bulkheadFull: ErrorType = "BulkheadFull"
    public static let bulkheadTimeout: ErrorType = "BulkheadTimeout"
    public static let queueFull: ErrorType = "QueueFull"
    public static let queueTimeout: ErrorType = "QueueTimeout"
    public static let manualTaskTimeout: ErrorType = "ManualTaskTimeout"
    public static let cancelled: ErrorType = "Cancelled"
    public static let sandboxViolation: ErrorType = "SandboxViolation"
    public static let luaMemoryLimit: ErrorType = "LuaMemoryLimit"
    public static let luaInstructionLimit: ErrorType = "LuaInstructionLimit"
    public static let luaPatternBudget: ErrorType = "LuaPatternBudget"
    public static let schemaInvalid: ErrorType = "SchemaInvalid"
    public static let compensationFailed: ErrorType = "CompensationFailed"
    public static let storageFull: ErrorType = "StorageFull"
    public static let storageBusy: ErrorType = "StorageBusy"

    /// Types never retried unless a policy's `retry_on` names them explicitly.
    public static let notRetriedByDefault: Set<ErrorType> = [.sandboxViolation, .schemaInvalid, .cancelled]
}

/// A typed failure of an activity, a script, an expression or a run.
///
/// Its message is always in `SafeText.errorMessage` form (control characters escaped, at most
/// 8 KB, marked when cut), whoever builds or changes it: a failure is stored in the journal,
/// logged, put in reports and returned by the API, and a script decides what its message holds.
/// The type and script name get the same treatment with tighter caps.
public struct ActivityFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var type: ErrorType {
        get { storedType }
        set { storedType = Self.safeType(newValue) }
    }
    public var message: String {
        get { storedMessage }
        set { storedMessage = SafeText.errorMessage(newValue) }
    }
    /// `false` when the raiser said `retryable = false`; `nil` leaves the decision to the policy.
    public var retryable: Bool?
    public var details: Value?
    /// Where it was raised: script name (or file) and line, when known.
    public var script: String? {
        get { storedScript }
        set { storedScript = newValue.map { SafeText.errorMessage($0, limit: Self.nameLimit) } }
    }
    public var line: Int?

    private var storedType: ErrorType
    private var storedMessage: String
    private var storedScript: String?

    /// The most UTF-8 bytes of a type or a script name.
    static let nameLimit = 256

    public init(
        _ type: ErrorType, _ message: String, retryable: Bool? = nil, details: Value? = nil,
        script: String? = nil, line: Int? = nil
    ) {
        self.storedType = Self.safeType(type)
        self.storedMessage = SafeText.errorMessage(message)
        self.retryable = retryable
        self.details = details
        self.storedScript = script.map { SafeText.errorMessage($0, limit: Self.nameLimit) }
        self.line = line
    }

    private static func safeType(_ type: ErrorType) -> ErrorType {
        let safe = SafeText.errorMessage(type.rawValue, limit: nameLimit)
        return safe == type.rawValue ? type : ErrorType(safe)
    }

    public var description: String {
        var where_ = ""
        if let script { where_ = line.map { " (\(script):\($0))" } ?? " (\(script))" }
        return "\(type): \(message)\(where_)"
    }
}
