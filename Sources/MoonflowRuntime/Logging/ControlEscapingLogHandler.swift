package import Logging
import MoonflowModel

/// Wraps a text log handler so that no logged field can forge a line or a terminal sequence: the
/// message, every metadata key and value (nested ones, `stringConvertible` ones rendered first,
/// and those of the metadata provider) have their control characters escaped
/// (`SafeText.escapingControls`) before the wrapped handler sees them. Run ids, workflow names,
/// script errors and event payloads all reach logs; with this in front of a `StreamLogHandler`,
/// a `\n` in any of them prints as `\n`, an ESC as `\u{1B}`.
///
/// The composition roots (the CLI commands, `moonflow serve`) install it around the text handler;
/// a structured (JSON) handler escapes by its own format and would be installed without it.
///
/// The logger's own metadata is kept here as set and escaped only when a line is logged: the
/// server sets some on every request (Hummingbird's request id) and logs from few of them, and a
/// `StreamLogHandler` renders its metadata again at each change.
package struct ControlEscapingLogHandler<Wrapped: LogHandler>: LogHandler {
    package private(set) var wrapped: Wrapped
    /// Kept here, not in `wrapped`, so that what it provides is escaped too.
    package var metadataProvider: Logger.MetadataProvider?
    /// The logger's metadata, not escaped yet.
    private var stored: Logger.Metadata

    package init(_ wrapped: Wrapped) {
        var wrapped = wrapped
        metadataProvider = wrapped.metadataProvider
        // (A handler without provider support logs a warning when one is set, even to nil.)
        if metadataProvider != nil { wrapped.metadataProvider = nil }
        stored = wrapped.metadata
        if !stored.isEmpty { wrapped.metadata = [:] }
        self.wrapped = wrapped
    }

    package var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    package var metadata: Logger.Metadata {
        get { Self.escape(stored) }
        set { stored = newValue }
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { stored[key].map(Self.escape) }
        set { stored[key] = newValue }
    }

    /// The logger's metadata, then the provider's, then the call's (each wins over the one
    /// before), escaped, as the call's metadata of the wrapped handler.
    package func log(event: LogEvent) {
        var event = event
        event.message = Logger.Message(stringLiteral: SafeText.escapingControls(event.message.description))
        var metadata = stored
        if let provided = metadataProvider?.get() { metadata.merge(provided) { _, provided in provided } }
        if let explicit = event.metadata { metadata.merge(explicit) { _, explicit in explicit } }
        event.metadata = metadata.isEmpty ? nil : Self.escape(metadata)
        wrapped.log(event: event)
    }

    static func escape(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var escaped: Logger.Metadata = [:]
        for (key, value) in metadata { escaped[SafeText.escapingControls(key)] = escape(value) }
        return escaped
    }

    static func escape(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(SafeText.escapingControls(text))
        case .stringConvertible(let item): .string(SafeText.escapingControls(item.description))
        case .dictionary(let metadata): .dictionary(escape(metadata))
        case .array(let values): .array(values.map(escape))
        @unknown default: .string(SafeText.escapingControls(value.description))
        }
    }
}

extension Logger {
    /// The logger every composition root uses, on standard error in `StandardErrorLog.format`:
    /// text (`StreamLogHandler` behind `ControlEscapingLogHandler`) or one JSON object a line
    /// (`JSONLogHandler`).
    package static func escapedStandardError(label: String, level: Logger.Level) -> Logger {
        var logger = Logger(label: label, factory: { StandardErrorLog.handler(label: $0) })
        logger.logLevel = level
        return logger
    }
}
