import MoonflowModel

/// Error types only the engine raises (docs/workflow-format.md). A script raising one could fake what the engine
/// decides on — `WorkerCrashed` was counted as a crash, `Cancelled` is never retried — so `fail`
/// and `error({type = …})` with one of them are a `SandboxViolation` naming it. `ActivityError`,
/// the default of `error("…")`, stays allowed. The `Lua` and `Storage` prefixes are reserved whole
/// for the engine's future types.
enum ReservedErrorTypes {
    static let names: Set<String> = Set(
        [
            ErrorType.timeout, .activityTimeout, .workerCrashed, .sandboxCrashed, .circuitOpen, .bulkheadFull, .bulkheadTimeout, .queueFull,
            .queueTimeout, .manualTaskTimeout, .cancelled, .sandboxViolation, .luaMemoryLimit, .luaInstructionLimit,
            .luaPatternBudget, .schemaInvalid, .compensationFailed, .storageFull, .storageBusy,
        ].map(\.rawValue))
    static let prefixes = ["Lua", "Storage"]

    static func contains(_ type: String) -> Bool {
        names.contains(type) || prefixes.contains { type.hasPrefix($0) }
    }
}
