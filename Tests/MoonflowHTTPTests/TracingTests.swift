import AsyncHTTPClient
import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import MoonflowServer
import NIOCore
import ServiceLifecycle
import Testing

/// moonflow.yaml's `tracing` (docs/operations.md): the spans of real runs, exported OTLP/HTTP
/// protobuf to a collector made of a `ServiceStub` on a loopback port and read back from its
/// requests (`OTLPSpan`). Every test ends its exporter first (a graceful shutdown exports what is
/// left), so the collector has everything it will ever get when the assertions run.
@Suite struct TracingTests {
    /// In the run's input and its output: no span may carry it.
    static let secret = "s3cr3t-input-value"

    static func config(collector: ServiceStub, service: ServiceStub, rate: Double = 1, enabled: Bool = true) -> String {
        """
        tracing:
          enabled: \(enabled)
          sampling_rate: \(rate)
          endpoint: \(collector.base)/v1/traces
          headers: {X-Collector-Key: "k-${ secrets.COLLECTOR }"}
        secrets: {env_prefix: MOONFLOW_SECRET_}
        connections:
          crm:
            url: \(service.base)/api
            allow_private_network: true
        """
    }

    /// Attempt 1 of `flaky` fails with `Flaky`, attempt 2 passes; then `fetch` makes a request.
    static let workflow = """
        workflow: traced
        version: "7"
        activities:
          - name: flaky
            run: |
              if activity.attempt == 1 then error({type = "Flaky", message = "first try"}) end
              return {echo = input.secret .. "-out"}
            retry: {max_attempts: 2, initial: 10ms, retry_on: [Flaky]}
          - name: fetch
            needs: [flaky]
            call: http
            with: {connection: crm, path: /items}
        """

    static let triggered = """
        workflow: ordered
        trigger:
          event: order:placed
        activities:
          - name: note
            run: return {ok = true}
        """

    static let environment = ["MOONFLOW_SECRET_COLLECTOR": "abc"]

    static func collector() async throws -> ServiceStub {
        try await ServiceStub.start { _ in ServiceStub.Response(status: 200, headers: [("Content-Type", "application/x-protobuf")]) }
    }

    static func service() async throws -> ServiceStub { try await ServiceStub.start { _ in .json("{}") } }

    static func spans(_ collector: ServiceStub) throws -> [OTLPSpan] {
        try collector.requests.filter { $0.path == "/v1/traces" }.flatMap { try OTLPSpan.decode($0.body) }
    }

    /// Runs `traced` as `moonflow run` does: the exporter runs meanwhile and is shut down after.
    static func run(_ project: HTTPProject, input: Value) async throws -> (ExecutionReport, Runtime) {
        var options = RuntimeOptions(
            project: project.url, config: try Runtime.configuration(project: project.url).get(), store: .memory, logger: HTTPProject.quiet,
            environment: environment)
        options.exportsTraces = true
        let runtime = try Runtime.make(options)
        let report = try await runtime.exportingTraces { try await project.run("traced", input: input, on: runtime) }
        return (report, runtime)
    }

    @Test func aRunIsOneTraceWithOneRootASpanPerAttemptAndAChildPerRequest() async throws {
        let (collector, service) = (try await Self.collector(), try await Self.service())
        defer { Task { await collector.stop(); await service.stop() } }
        let project = try HTTPProject(config: Self.config(collector: collector, service: service), workflows: ["traced": Self.workflow])
        let (report, _) = try await Self.run(project, input: ["secret": .string(Self.secret)])
        #expect(report.status == .completed)
        let spans = try Self.spans(collector)
        let anchor = RunTrace.parent(of: report.runID, given: nil, samplingRate: 1)
        // One trace, the one the run id gives.
        #expect(Set(spans.map(\.traceHex)) == [anchor.traceIDHex])
        // A single root: the run's span, under the run's anchor; every other span descends from it.
        let ids = Set(spans.map(\.spanHex))
        let roots = spans.filter { !ids.contains($0.parentHex) }
        #expect(roots.map(\.name) == ["run traced"])
        #expect(roots.first?.parentHex == Hex.encode(anchor.parentID))
        let root = try #require(roots.first)
        #expect(root.string("moonflow.run.id") == report.runID && root.string("moonflow.run.status") == "completed")
        // A span per attempt: the failed one with its error type.
        let flaky = spans.filter { $0.name == "activity flaky" }.sorted { ($0.int("moonflow.attempt") ?? 0) < ($1.int("moonflow.attempt") ?? 0) }
        #expect(flaky.map { $0.int("moonflow.attempt") } == [1, 2])
        #expect(flaky.map { $0.string("moonflow.status") } == ["failed", "completed"])
        #expect(flaky.first?.string("moonflow.error.type") == "Flaky" && flaky.first?.statusCode == 2)
        #expect(flaky.last?.string("moonflow.error.type") == nil)
        #expect(flaky.allSatisfy { $0.parentHex == root.spanHex && $0.string("moonflow.workflow") == "traced" })
        #expect(flaky.allSatisfy { $0.string("moonflow.workflow.version") == "7" && $0.string("moonflow.activity") == "flaky" })
        // The request: a client span under the attempt's, its traceparent sent to the service.
        let fetch = try #require(spans.first { $0.name == "activity fetch" })
        let request = try #require(spans.first { $0.name == "HTTP GET" })
        #expect(request.parentHex == fetch.spanHex && request.kind == 3 && request.int("http.response.status_code") == 200)
        #expect(service.requests.first?.header("traceparent") == "00-\(anchor.traceIDHex)-\(request.spanHex)-01")
        // Never an input or an output value in an attribute.
        for span in spans {
            for (key, value) in span.attributes {
                if case .string(let text) = value { #expect(!text.contains(Self.secret), "\(span.name) \(key)") }
            }
        }
        // Exported as protobuf, with moonflow.yaml's headers (their secrets resolved).
        let export = try #require(collector.requests.first)
        #expect(export.method == "POST" && export.header("Content-Type") == "application/x-protobuf")
        #expect(export.header("X-Collector-Key") == "k-abc")
    }

    @Test func aLuaRequestIsAChildOfItsAttemptToo() async throws {
        let (collector, service) = (try await Self.collector(), try await Self.service())
        defer { Task { await collector.stop(); await service.stop() } }
        let workflow = """
            workflow: traced
            activities:
              - name: ask
                run: |
                  local first = http.request{connection = "crm", path = "/one"}
                  local second = http.request{connection = "crm", method = "POST", path = "/two", json = {}}
                  return {statuses = {first.status, second.status}}
            """
        let project = try HTTPProject(config: Self.config(collector: collector, service: service), workflows: ["traced": workflow])
        let (report, _) = try await Self.run(project, input: [:])
        #expect(report.status == .completed)
        let spans = try Self.spans(collector)
        let attempt = try #require(spans.first { $0.name == "activity ask" })
        let requests = spans.filter { $0.name.hasPrefix("HTTP ") }
        #expect(requests.map(\.name).sorted() == ["HTTP GET", "HTTP POST"])
        #expect(requests.allSatisfy { $0.parentHex == attempt.spanHex && $0.traceHex == attempt.traceHex })
        // Each request carried its own span's traceparent.
        let sent = service.requests.compactMap { $0.header("traceparent") }
        #expect(Set(sent) == Set(requests.map { "00-\($0.traceHex)-\($0.spanHex)-01" }))
    }

    @Test func aCompensationHasASpanOfItsOwnInTheRunsTrace() async throws {
        let (collector, service) = (try await Self.collector(), try await Self.service())
        defer { Task { await collector.stop(); await service.stop() } }
        let workflow = """
            workflow: traced
            activities:
              - name: reserve
                run: return {id = 1}
                compensate:
                  run: return {released = true}
              - name: charge
                needs: [reserve]
                run: error({type = "Declined", message = "no", retryable = false})
            """
        let project = try HTTPProject(config: Self.config(collector: collector, service: service), workflows: ["traced": workflow])
        let (report, _) = try await Self.run(project, input: [:])
        #expect(report.status == .compensated)
        let spans = try Self.spans(collector)
        let root = try #require(spans.first { $0.name == "run traced" })
        #expect(root.string("moonflow.run.status") == "compensated" && root.statusCode == 2)
        let undo = try #require(spans.first { $0.name == "compensation reserve" })
        #expect(undo.parentHex == root.spanHex && undo.string("moonflow.status") == "completed")
        #expect(spans.first { $0.name == "activity charge" }?.string("moonflow.error.type") == "Declined")
        #expect(Set(spans.map(\.traceHex)).count == 1)
    }

    /// Two runtimes over one store stand for a process that stopped and the one that took over.
    @Test func aRunAnotherProcessGoesOnWithStaysInItsTrace() async throws {
        let (collector, service) = (try await Self.collector(), try await Self.service())
        defer { Task { await collector.stop(); await service.stop() } }
        let project = try HTTPProject(config: Self.config(collector: collector, service: service), workflows: ["traced": Self.workflow])
        let store = InMemoryRunStore()
        func runtime() throws -> Runtime {
            var options = RuntimeOptions(
                project: project.url, config: try Runtime.configuration(project: project.url).get(), store: .existing(store),
                logger: HTTPProject.quiet, environment: Self.environment)
            options.exportsTraces = true
            return try Runtime.make(options)
        }
        let first = try runtime()
        let id = try await first.exportingTraces { () async throws -> RunID in
            let loaded = try first.loader.loadWorkflow("traced")
            let id = try await first.engine.start(loaded.pinned, input: ["secret": "x"], breakBefore: ["fetch"])
            #expect(try await first.driveUntilSettled(id).status == .paused)
            return id
        }
        // The first process never ended its run span: only its attempts were exported.
        #expect(try Self.spans(collector).map(\.name).sorted() == ["activity flaky", "activity flaky"])
        let second = try runtime()
        let status = try await second.exportingTraces { try await second.engine.unpause(id) }
        #expect(status == .completed)
        let spans = try Self.spans(collector)
        let anchor = RunTrace.parent(of: id, given: nil, samplingRate: 1)
        #expect(Set(spans.map(\.traceHex)) == [anchor.traceIDHex])
        let run = try #require(spans.first { $0.name == "run traced" })
        #expect(run.attributes["moonflow.run.resumed"] == .bool(true) && run.parentHex == Hex.encode(anchor.parentID))
        #expect(spans.first { $0.name == "activity fetch" }?.parentHex == run.spanHex)
    }

    /// The built `moonflow run` exports the run's spans before it exits.
    @Test func moonflowRunExportsItsRunBeforeExiting() async throws {
        let (collector, service) = (try await Self.collector(), try await Self.service())
        defer { Task { await collector.stop(); await service.stop() } }
        let project = try HTTPProject(
            config: Self.config(collector: collector, service: service).replacingOccurrences(of: "\"k-${ secrets.COLLECTOR }\"", with: "k-cli"),
            workflows: ["traced": Self.workflow])
        let (status, stdout) = try project.moonflow(["run", "traced", "--input", #"{"secret": "x"}"#, "--store", "memory", "--format", "json"])
        #expect(status == 0)
        let runID = try #require(try Value(json: stdout)["run_id"]?.stringValue)
        let spans = try Self.spans(collector)
        #expect(spans.map(\.name).sorted() == ["HTTP GET", "activity fetch", "activity flaky", "activity flaky", "run traced"])
        #expect(Set(spans.map(\.traceHex)) == [RunTrace.parent(of: runID, given: nil, samplingRate: 1).traceIDHex])
        #expect(collector.requests.first?.header("X-Collector-Key") == "k-cli")
    }

    @Test func aRunsTraceAndItsSamplingFollowFromItsIDAlone() {
        let one = RunTrace.parent(of: "order-1", given: nil, samplingRate: 1)
        #expect(one == RunTrace.parent(of: "order-1", given: nil, samplingRate: 1))
        #expect(one.traceID != RunTrace.parent(of: "order-2", given: nil, samplingRate: 1).traceID)
        #expect(one.traceID.count == 16 && one.parentID.count == 8 && one.sampled)
        // The first 8 bytes of the trace id, as a fraction of 2⁶⁴, against the rate.
        let low = [UInt8](repeating: 0, count: 7) + [1] + [UInt8](repeating: 7, count: 8)
        let high = [0xc0] + [UInt8](repeating: 0, count: 15)
        #expect(RunTrace.sampled(low, rate: 0.5) && !RunTrace.sampled(high, rate: 0.5) && RunTrace.sampled(high, rate: 0.8))
        #expect(!RunTrace.sampled(low, rate: 0) && RunTrace.sampled(high, rate: 1))
        // A caller's traceparent wins, sampled or not, whatever the rate.
        let caller = TraceParent(header: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")!
        #expect(RunTrace.parent(of: "order-1", given: caller, samplingRate: 1) == caller)
    }

    @Test func aHeaderNamingAnUndefinedSecretStopsTheRuntime() throws {
        let project = try HTTPProject(
            config: """
                tracing: {enabled: true, headers: {Authorization: "Bearer ${ secrets.OTEL_TOKEN }"}}
                secrets: {env_prefix: MOONFLOW_SECRET_}
                """, workflows: ["traced": Self.workflow])
        var options = RuntimeOptions(
            project: project.url, config: try Runtime.configuration(project: project.url).get(), store: .memory, logger: HTTPProject.quiet,
            environment: [:])
        options.exportsTraces = true
        #expect {
            _ = try Runtime.make(options)
        } throws: { error in
            "\(error)" == "tracing.headers.Authorization names secret 'OTEL_TOKEN', which is not defined"
        }
        // A command that exports no traces does not need it.
        options.exportsTraces = false
        #expect(try Runtime.make(options).tracing == nil)
    }

    @Test func samplingRateZeroExportsNothingButStillPropagatesTheTrace() async throws {
        let (collector, service) = (try await Self.collector(), try await Self.service())
        defer { Task { await collector.stop(); await service.stop() } }
        let project = try HTTPProject(
            config: Self.config(collector: collector, service: service, rate: 0), workflows: ["traced": Self.workflow])
        let (report, _) = try await Self.run(project, input: ["secret": "x"])
        #expect(report.status == .completed)
        #expect(collector.requests.isEmpty)
        let anchor = RunTrace.parent(of: report.runID, given: nil, samplingRate: 0)
        let sent = try #require(service.requests.first?.header("traceparent"))
        #expect(sent.hasPrefix("00-\(anchor.traceIDHex)-") && sent.hasSuffix("-00"))
    }

    @Test func disabledTracingBuildsNothingAndExportsNothing() async throws {
        let (collector, service) = (try await Self.collector(), try await Self.service())
        defer { Task { await collector.stop(); await service.stop() } }
        let project = try HTTPProject(
            config: Self.config(collector: collector, service: service, enabled: false), workflows: ["traced": Self.workflow])
        let (report, runtime) = try await Self.run(project, input: ["secret": "x"])
        #expect(report.status == .completed && runtime.tracing == nil)
        #expect(collector.requests.isEmpty)
        #expect(service.requests.count == 1 && service.requests.first?.header("traceparent") == nil)
    }

    @Test func anAbsentCollectorNeitherFailsNorHoldsARun() async throws {
        let gone = try await Self.collector()
        await gone.stop()
        let service = try await Self.service()
        defer { Task { await service.stop() } }
        let project = try HTTPProject(config: Self.config(collector: gone, service: service), workflows: ["traced": Self.workflow])
        let (report, _) = try await Self.run(project, input: ["secret": "x"])
        #expect(report.status == .completed)
        #expect(report.activity("fetch")?.output?["status"] == 200)
    }

    @Test func aTraceparentOnAStartOrAnEventContinuesTheCallersTrace() async throws {
        let (collector, service) = (try await Self.collector(), try await Self.service())
        defer { Task { await collector.stop(); await service.stop() } }
        let project = try HTTPProject(
            config: Self.config(collector: collector, service: service), workflows: ["traced": Self.workflow, "ordered": Self.triggered])
        let config = try Runtime.configuration(project: project.url).get()
        let runtime = try Runtime.make(
            RuntimeOptions(
                project: project.url, config: config, store: .memory, logger: HTTPProject.quiet, serving: ServingOptions(),
                environment: Self.environment))
        let callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let eventTrace = "0af7651916cd43dd8448eb211c80319c"
        let started = try await Self.serve(runtime) { base in
            let run = try await Self.post(
                base + "/v1/runs", #"{"workflow": "traced", "input": {"secret": "x"}}"#, traceparent: "00-\(callerTrace)-00f067aa0ba902b7-01")
            let event = try await Self.post(
                base + "/v1/events", #"{"type": "order:placed", "payload": {}}"#, traceparent: "00-\(eventTrace)-b7ad6b7169203331-01")
            let runID = try #require(run["run_id"]?.stringValue)
            let eventRunID = try #require(event["started"]?.arrayValue?.first?["run_id"]?.stringValue)
            for id in [runID, eventRunID] {
                let deadline = ContinuousClock.now + .seconds(60)
                while try await runtime.store.state(of: id)?.status.isTerminal != true, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            return [runID, eventRunID]
        }
        #expect(started.count == 2)
        let spans = try Self.spans(collector)
        let run = try #require(spans.first { $0.name == "run traced" })
        #expect(run.traceHex == callerTrace && run.parentHex == "00f067aa0ba902b7")
        #expect(spans.filter { $0.traceHex == callerTrace }.count == 5)
        let ordered = try #require(spans.first { $0.name == "run ordered" })
        #expect(ordered.traceHex == eventTrace && ordered.parentHex == "b7ad6b7169203331")
        #expect(ordered.string("moonflow.run.id") == started.last)
    }

    /// Serves `runtime` on a loopback port for `body`, then shuts it down gracefully (which exports the spans left).
    static func serve<T: Sendable>(_ runtime: Runtime, _ body: @Sendable (String) async throws -> T) async throws -> T {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let application = try MoonflowServer.makeApplication(ServerOptions(port: 0, insecureNoAuth: true), runtime: runtime) {
            continuation.yield($0)
        }
        let group = ServiceGroup(configuration: .init(services: [application], logger: runtime.logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let result: T
            do {
                result = try await body("http://127.0.0.1:\(port)")
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }

    static func post(_ url: String, _ body: String, traceparent: String) async throws -> Value {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "traceparent", value: traceparent)
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return try Value(json: String(buffer: bytes))
    }
}
