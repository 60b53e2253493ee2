package import Logging
import MoonflowModel
import Synchronization

/// The `log.*` entries of one execution of a code action, kept as the script makes them (by the
/// sandbox's `logSink`), so that those of an attempt that fails reach the journal too. The
/// sandbox caps them per execution (entries and bytes, within the host budget).
final class ScriptLogBuffer: Sendable {
    private let trace = Mutex(ScriptTrace())

    func append(_ entry: ScriptLogEntry) { trace.withLock { $0.entries.append(entry) } }

    /// What the execution's non-deterministic built-ins answered (`ScriptInvocation.recordingSink`).
    func record(_ recording: ScriptRecording) { trace.withLock { $0.recording = recording } }

    /// The entries and the recording kept so far, emptying the buffer.
    func drain() -> ScriptTrace { trace.withLock { trace in defer { trace = ScriptTrace() }; return trace } }
}

/// What one execution of a body leaves for its run's journal besides its outcome: its log entries
/// (`activity.log`) and the recording of its non-deterministic built-ins (`activity.recorded`).
struct ScriptTrace: Sendable {
    var entries: [ScriptLogEntry] = []
    var recording: ScriptRecording?

    var isEmpty: Bool { entries.isEmpty && recording == nil }
}

extension DriverEnvironment {
    /// What the sandbox calls with each `log.*` entry: the entry is logged at once, at its level,
    /// with the run's metadata and its fields, and kept in `buffer` for the journal.
    func scriptLogSink(_ context: BodyContext, attempt: Int, buffer: ScriptLogBuffer?) -> @Sendable (ScriptLogEntry) -> Void {
        let logger = logger
        return { entry in
            buffer?.append(entry)
            let level = ScriptLogLevel.swiftLog(entry.level)
            guard logger.logLevel <= level else { return }
            var metadata = ScriptLogLevel.metadata(entry.fields)
            // The run's own keys win over a field of the same name: a script cannot forge them.
            metadata["run.id"] = .string(context.runID)
            metadata["workflow"] = .string(context.workflow)
            metadata["activity"] = .string(context.activity)
            metadata["attempt"] = .stringConvertible(attempt)
            logger.log(level: level, "\(entry.message)", metadata: metadata)
        }
    }
}

/// Levels of script logs (`log.debug/info/warn/error`) and of `call: log`.
package enum ScriptLogLevel {
    /// The swift-log level of a name in `ScriptLogEntry.levels` (`warn` is `warning`); `nil` for any other.
    package static func level(_ name: String) -> Logger.Level? {
        name == "warn" ? .warning : Logger.Level(rawValue: name)
    }

    static func swiftLog(_ name: String) -> Logger.Level { level(name) ?? .info }

    /// A script's fields as log metadata: an object's members each under their key; any other
    /// value under `fields`. Scalars are rendered as text.
    static func metadata(_ fields: Value) -> Logger.Metadata {
        switch fields {
        case .object(let members):
            var metadata: Logger.Metadata = [:]
            for (key, value) in members { metadata[key] = metadataValue(value) }
            return metadata
        case .null: return [:]
        default: return ["fields": metadataValue(fields)]
        }
    }

    static func metadataValue(_ value: Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(text)
        case .array(let items): .array(items.map(metadataValue))
        case .object(let members): .dictionary(Logger.Metadata(uniqueKeysWithValues: members.map { ($0.key, metadataValue($0.value)) }))
        default: .string(value.jsonString())
        }
    }
}
