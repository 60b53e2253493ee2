import MoonflowEngine
import MoonflowModel
import OrderedCollections
import Synchronization
import Tracing

/// The spans of runs through a swift-distributed-tracing `Tracer` (swift-otel's, `RunTracingSetup`):
/// a span per drive of a run that lasts until the run ends (or waits: it is kept open across the
/// run's waits), a child span per attempt of an activity, a compensation or a fallback, and a
/// child of that per HTTP request (`TracedHTTP`). Attributes are names and numbers — never an
/// input, an output, a header or a secret.
final class OTelRunTracing<Backend: Tracer>: RunTracing {
    private let tracer: Backend
    private let samplingRate: Double
    /// The open span of every run this process drives or keeps waiting.
    private let runs = Mutex<[RunID: Backend.Span]>([:])

    init(tracer: Backend, samplingRate: Double) {
        self.tracer = tracer
        self.samplingRate = samplingRate
    }

    func drive(_ state: RunState, workflow: Workflow, _ body: () async throws -> RunStatus) async throws -> RunStatus {
        let span = runSpan(state, workflow: workflow)
        let status = try await body()
        guard status.isTerminal else { return status }
        span.attributes["moonflow.run.status"] = status.rawValue
        if status != .completed { span.setStatus(SpanStatus(code: .error, message: status.rawValue)) }
        runs.withLock { _ = $0.removeValue(forKey: state.id) }
        span.end()
        return status
    }

    func attempt(
        _ attempt: TracedAttempt, http: (any HTTPCalling)?,
        _ body: ((any HTTPCalling)?) async throws(ActivityFailure) -> ScriptOutcome
    ) async throws(ActivityFailure) -> ScriptOutcome {
        let parent = runs.withLock { $0[attempt.runID]?.context } ?? context(of: attempt.runID, given: nil)
        let span = tracer.startSpan("\(attempt.kind.rawValue) \(attempt.activity)", context: parent, ofKind: .internal)
        span.attributes["moonflow.run.id"] = attempt.runID
        span.attributes["moonflow.workflow"] = attempt.workflow
        if let version = attempt.version { span.attributes["moonflow.workflow.version"] = version }
        span.attributes["moonflow.activity"] = attempt.activity
        span.attributes["moonflow.attempt"] = attempt.attempt
        defer { span.end() }
        do throws(ActivityFailure) {
            let outcome = try await body(http.map { TracedHTTP(inner: $0, tracer: tracer, parent: span.context) })
            span.attributes["moonflow.status"] = "completed"
            return outcome
        } catch {
            span.attributes["moonflow.status"] = "failed"
            span.attributes["moonflow.error.type"] = error.type.rawValue
            span.setStatus(SpanStatus(code: .error, message: error.type.rawValue))
            throw error
        }
    }

    /// The run's open span, or one opened now under the run's trace (`RunTrace`).
    private func runSpan(_ state: RunState, workflow: Workflow) -> Backend.Span {
        if let open = runs.withLock({ $0[state.id] }) { return open }
        let span = tracer.startSpan(
            "run \(workflow.id)", context: context(of: state.id, given: state.traceParent), ofKind: .internal)
        span.attributes["moonflow.run.id"] = state.id
        span.attributes["moonflow.workflow"] = workflow.id
        if let version = workflow.version { span.attributes["moonflow.workflow.version"] = version }
        // A run this process did not start: recovered after a restart, redriven, resumed.
        if state.status != .queued { span.attributes["moonflow.run.resumed"] = true }
        runs.withLock { $0[state.id] = span }
        return span
    }

    /// The context the run's spans descend from: its `traceparent`, as the tracer reads one.
    private func context(of runID: RunID, given: TraceParent?) -> ServiceContext {
        let parent = RunTrace.parent(of: runID, given: given, samplingRate: samplingRate)
        var context = ServiceContext.topLevel
        tracer.extract(["traceparent": parent.header], into: &context, using: TraceFieldReader())
        return context
    }
}

/// Requests within an attempt's span: a client span per request, its W3C `traceparent` sent.
struct TracedHTTP<Backend: Tracer>: HTTPCalling {
    let inner: any HTTPCalling
    let tracer: Backend
    let parent: ServiceContext

    func call(_ request: HTTPCall) async throws(ActivityFailure) -> HTTPCallResponse {
        let span = tracer.startSpan("HTTP \(request.method)", context: parent, ofKind: .client)
        span.attributes["http.request.method"] = request.method
        span.attributes["moonflow.connection"] = request.connection
        defer { span.end() }
        var request = request
        // The caller's own trace fields give way to the span's.
        for name in request.headers.keys where TraceFieldWriter.names.contains(name.lowercased()) { request.headers[name] = nil }
        tracer.inject(span.context, into: &request.headers, using: TraceFieldWriter())
        do throws(ActivityFailure) {
            let response = try await inner.call(request)
            span.attributes["http.response.status_code"] = response.status
            if response.status >= 400 { span.setStatus(SpanStatus(code: .error, message: "\(response.status)")) }
            return response
        } catch {
            span.attributes["error.type"] = error.type.rawValue
            span.setStatus(SpanStatus(code: .error, message: error.type.rawValue))
            throw error
        }
    }
}

/// Reads the trace context fields the tracer asks for (lowercase names).
struct TraceFieldReader: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

/// Writes the tracer's trace context fields into a request's headers.
struct TraceFieldWriter: Injector {
    /// The W3C Trace Context fields.
    static let names: Set<String> = ["traceparent", "tracestate"]

    func inject(_ value: String, forKey key: String, into carrier: inout OrderedDictionary<String, String>) {
        carrier[key] = value
    }
}
