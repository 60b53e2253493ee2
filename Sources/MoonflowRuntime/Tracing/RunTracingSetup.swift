package import Logging
package import MoonflowEngine
package import MoonflowModel
import OTel
package import ServiceLifecycle

/// moonflow.yaml's `tracing` made real (docs/operations.md): swift-otel's tracer exporting
/// OTLP/HTTP protobuf to `tracing.endpoint`, in batches, and the service that exports them (run
/// by `moonflow serve` with its other services, and by `moonflow run` until the run is reported).
/// The tracer is handed to the engine, not bootstrapped as the process's global one.
package struct RunTracingSetup: Sendable {
    package let tracing: any RunTracing
    /// Processes and exports the spans; a graceful shutdown exports what is left.
    package let service: any Service

    /// Spans queued for export beyond which new ones are dropped (a collector that is down never
    /// holds more than this in memory, nor slows a run).
    static let maxQueueSize = 4096
    static let maxExportBatchSize = 512
    static let scheduleDelay = Duration.seconds(2)
    /// How long one export may take, retries included; the last export at shutdown waits no longer.
    static let exportTimeout = Duration.seconds(5)

    /// `nil` when tracing is disabled: nothing is built. `headers` are resolved with `secrets`.
    package static func make(_ config: EngineConfig, secrets: [String: String], logger: Logger) throws(TracingSetupError) -> Self? {
        guard config.tracingEnabled else { return nil }
        var headers: [(String, String)] = []
        for (name, text) in config.tracingHeaders {
            switch text.resolved(secrets) {
            case .success(let value): headers.append((name, value))
            case .failure(let missing): throw TracingSetupError(description: "tracing.headers.\(name) names secret '\(missing.name)', which is not defined")
            }
        }
        var otel = OTel.Configuration.default
        otel.serviceName = "moonflow"
        otel.diagnosticLogger = .custom(logger)
        // A failed export is a warning; swift-otel's own comings and goings are not news.
        otel.diagnosticLogLevel = .warning
        otel.propagators = [.traceContext]
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.traces.enabled = true
        // The run's trace decides (`RunTrace`): a span follows its parent's sampled flag.
        otel.traces.sampler = .parentBasedAlwaysOn
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.endpoint = config.tracingEndpoint
        otel.traces.otlpExporter.protocol = .httpProtobuf
        otel.traces.otlpExporter.headers = headers
        otel.traces.otlpExporter.timeout = exportTimeout
        otel.traces.batchSpanProcessor.maxQueueSize = maxQueueSize
        otel.traces.batchSpanProcessor.maxExportBatchSize = maxExportBatchSize
        otel.traces.batchSpanProcessor.scheduleDelay = scheduleDelay
        otel.traces.batchSpanProcessor.exportTimeout = exportTimeout
        do {
            let (tracer, service) = try OTel.makeTracingBackend(configuration: otel)
            return Self(tracing: OTelRunTracing(tracer: tracer, samplingRate: config.tracingSamplingRate), service: service)
        } catch {
            throw TracingSetupError(description: "tracing: \(error)")
        }
    }
}

/// Why tracing could not be set up: a header names a secret nobody defined, or swift-otel refused
/// the configuration.
package struct TracingSetupError: Error, Sendable, CustomStringConvertible {
    package var description: String
}
