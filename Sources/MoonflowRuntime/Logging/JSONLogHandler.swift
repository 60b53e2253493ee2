package import Foundation
package import Logging
package import MoonflowModel
import OrderedCollections
import Synchronization

/// `logging.format: json`: each log line is one JSON object, `{"ts", "level", "message",
/// "logger", …metadata}`, written whole on one line. The metadata is flattened into the object (a
/// nested dictionary or list stays a JSON object or array); a metadata key that is one of the
/// four names above is written as `metadata.<key>`. JSON escaping keeps every line one object
/// whatever a script or a caller puts in a message, key or value: a newline is `\n`, any other
/// control character `\u00XX`. So no `ControlEscapingLogHandler` goes in front of it.
///
/// No maintained JSON handler for swift-log is among the packages this project can resolve; this
/// one is small and tested on every stderr line of a real `moonflow run` and `serve`.
package struct JSONLogHandler: LogHandler {
    package let label: String
    package var logLevel: Logger.Level = .info
    package var metadata: Logger.Metadata = [:]
    package var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void

    /// A handler writing to `write` (standard error by default), one call per line, without the newline.
    package init(
        label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider,
        write: @escaping @Sendable (String) -> Void = StandardErrorLines.write
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, provided in provided } }
        if let explicit = event.metadata { merged.merge(explicit) { _, explicit in explicit } }
        write(Self.line(at: Date(), level: event.level, message: event.message.description, label: label, metadata: merged))
    }

    /// The JSON object of one line (no trailing newline). Metadata keys are sorted, so equal
    /// events give equal lines.
    package static func line(at date: Date, level: Logger.Level, message: String, label: String, metadata: Logger.Metadata) -> String {
        var object: OrderedDictionary<String, Value> = [
            "ts": .string(Timestamp(date).iso8601), "level": .string(level.rawValue), "message": .string(message),
            "logger": .string(label),
        ]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            object[reserved.contains(key) ? "metadata.\(key)" : key] = Self.value(value)
        }
        return Value.object(object).jsonString()
    }

    static let reserved: Set<String> = ["ts", "level", "message", "logger"]

    static func value(_ metadata: Logger.Metadata.Value) -> Value {
        switch metadata {
        case .string(let text): .string(text)
        case .stringConvertible(let item): .string(item.description)
        case .array(let items): .array(items.map(value))
        case .dictionary(let members):
            .object(OrderedDictionary(uniqueKeysWithValues: members.sorted { $0.key < $1.key }.map { ($0.key, value($0.value)) }))
        @unknown default: .string(metadata.description)
        }
    }
}

/// Whole lines to standard error: a lock keeps the lines of concurrent loggers (and of the CLI's
/// own messages) from interleaving, and each is written completely before the next.
package enum StandardErrorLines {
    private static let lock = Mutex<Void>(())

    package static let write: @Sendable (String) -> Void = { line in
        let bytes = Array((line + "\n").utf8)
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { Foundation.write(2, $0.baseAddress, $0.count) }
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}

/// How the process writes its log lines to standard error (`logging.format`): chosen once by the
/// composition root from `moonflow.yaml`, read by every logger it makes and by the CLI's own
/// messages, so that with `json` every line on standard error is one JSON object.
package enum StandardErrorLog {
    private static let chosen = Mutex<EngineConfig.LogFormat>(.text)

    package static var format: EngineConfig.LogFormat {
        get { chosen.withLock { $0 } }
        set { chosen.withLock { $0 = newValue } }
    }

    /// A handler for the current format: JSON, or the text `StreamLogHandler` behind
    /// `ControlEscapingLogHandler`.
    package static func handler(label: String) -> any LogHandler {
        switch format {
        case .json: JSONLogHandler(label: label)
        case .text: ControlEscapingLogHandler(StreamLogHandler.standardError(label: label))
        }
    }
}
