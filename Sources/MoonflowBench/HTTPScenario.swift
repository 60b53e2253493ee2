import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import MoonflowServer
import ServiceLifecycle

/// `http`: runs started over HTTP and driven to completion, per second. The real server
/// (`MoonflowServer.makeApplication` over a served `Runtime`, as `moonflow serve` builds it, with
/// its default run backlog) runs in this process on a free loopback port, over the store the bench
/// was asked for (a fresh one per repetition); `wrk` posts `{"workflow": "http_noop"}` (one
/// `call: noop` step) to `POST /v1/runs` on every connection as fast as answers come, for
/// `loadDuration`. A start refused with 503 (the backlog is full) is sent again at once.
///
/// The figure counts runs *completed*, read from the store once the backlog has drained: the
/// runs whose `finished_at` falls inside the load window, over the window's length. Answers are
/// only reported beside it (accepted, refused). Checked: every run the store holds completed (none
/// accepted was lost or failed), and it holds at least as many runs as wrk saw 201s.
///
/// The floor is wrk against `GET /health` on the same server just before, with the same
/// connections: what one request costs this server's HTTP stack, middlewares included.
struct HTTPScenario: BenchScenario {
    let name = "http"
    static let workflowID = "http_noop"
    static let loadDuration = Duration.seconds(3)
    static let floorDuration = Duration.seconds(2)
    /// How long the backlog may take to drain after the load stops.
    static let drainTimeout = Duration.seconds(120)

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        let wrk = try WrkLoad.locate()
        let project = try BenchProject(files: ["\(Self.workflowID).yaml": BenchWorkflows.noop(id: Self.workflowID, count: 1)])
        defer { project.remove() }
        var samples: [Sample] = []
        for _ in 0..<context.repetitions {
            samples.append(try await Self.measure(project, store: context.store, wrk: wrk))
        }
        let driven = Bench.median(samples.map { 1e9 / $0.completedPerSecond })
        let accepted = Bench.median(samples.map { 1e9 / $0.acceptedPerSecond })
        let floor = BenchFloor(
            name: "wrk → GET /health, same server (-c\(wrk.connections))", nanos: Bench.median(samples.map { 1e9 / $0.floorPerSecond }))
        let goal: Double = context.store == .memory ? 10_000 : 5_000
        let last = samples[samples.count - 1]
        let checked =
            "every run completed, none lost; last repetition: \(last.completed) completed in the window, \(last.stored) stored, "
            + "\(last.load.succeeded) answered 201, \(last.load.refused) refused (503), \(last.load.other + last.load.errors) other"
        return [
            BenchFigure(
                scenario: name, metric: "runs started + driven over HTTP", nanosPerOp: driven, unit: "run", checked: checked, floor: floor,
                runsPerSecond: 1e9 / driven,
                target: .atMost(driven, 1e9 / goal, "≥ \(Int(goal).formatted()) runs/s driven to completion")),
            BenchFigure(
                scenario: name, metric: "starts accepted over HTTP (201)", nanosPerOp: accepted, unit: "run",
                checked: "answers wrk counted; refused starts are not in it", floor: floor, runsPerSecond: 1e9 / accepted),
        ]
    }

    /// One repetition's counts.
    struct Sample {
        var load: WrkLoad.Result
        var window: Duration
        var completed: Int
        var stored: Int
        var floorPerSecond: Double

        var completedPerSecond: Double { Double(completed) / (Bench.nanos(window) / 1e9) }
        var acceptedPerSecond: Double { Double(load.succeeded) / (Bench.nanos(window) / 1e9) }
    }

    /// Serves the project over a fresh store, measures the floor then the load, waits for the
    /// backlog to drain, and counts and checks the runs in the store.
    private static func measure(_ project: BenchProject, store: BenchStore, wrk: WrkLoad) async throws -> Sample {
        var config = EngineConfig()
        switch store {
        case .memory: config.store = .memory
        case .sqlite(let synchronous): config.store = .sqlite(path: ".moonflow/http-\(UUID().uuidString).db", synchronous: synchronous)
        // It counts the runs of a fresh store per repetition: a shared database is not that.
        case .postgres: throw BenchError(description: "http: not measured with --store postgres (it needs a fresh store per repetition)")
        }
        // The logger `moonflow serve` has (the server sets metadata on it at every request).
        let logger = Logger.escapedStandardError(label: "moonflow.bench.http", level: .error)
        let runtime = try Runtime.make(RuntimeOptions(project: project.directory, config: config, logger: logger, serving: ServingOptions()))
        guard let served = runtime.served else { throw BenchError(description: "http: the runtime serves nothing") }
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let application = try MoonflowServer.makeApplication(ServerOptions(port: 0, insecureNoAuth: true), runtime: runtime) { port in
            portContinuation.yield(port)
        }
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { portContinuation.finish() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw BenchError(description: "http: the server did not start") }
            let result: Result<Sample, any Error>
            do {
                let health = try await wrk.run(.init(method: "GET", path: "/health"), port: port, duration: floorDuration, in: project.directory)
                guard health.succeeded == health.requests, health.requests > 0 else {
                    throw BenchError(description: "http: GET /health answered \(health.requests - health.succeeded) of \(health.requests) requests with an error")
                }
                let start = SystemClock().now
                let load = try await wrk.run(
                    .init(method: "POST", path: "/v1/runs", body: #"{"workflow": "\#(workflowID)"}"#), port: port, duration: loadDuration,
                    in: project.directory)
                let end = SystemClock().now
                let (completed, stored) = try await drainAndCount(served, from: start, to: end, accepted: load.succeeded)
                result = .success(
                    Sample(load: load, window: end - start, completed: completed, stored: stored, floorPerSecond: health.requestsPerSecond))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }

    /// Waits for every run given to the dispatcher to be driven, checks that each run of the store
    /// completed, and returns how many finished inside `start...end`, and how many are stored.
    private static func drainAndCount(
        _ served: ServedProject, from start: Timestamp, to end: Timestamp, accepted: Int
    ) async throws -> (completed: Int, stored: Int) {
        let deadline = ContinuousClock.now + drainTimeout
        while served.dispatcher.backlogCount > 0 {
            guard ContinuousClock.now < deadline else {
                throw BenchError(description: "http: \(served.dispatcher.backlogCount) runs still undriven \(drainTimeout) after the load")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let runs = try await served.store.runs(status: nil)
        if let unfinished = runs.first(where: { $0.status != .completed }) {
            throw BenchError(description: "http: run \(unfinished.id) is \(unfinished.status.rawValue), not completed")
        }
        guard runs.count >= accepted else {
            throw BenchError(description: "http: wrk saw \(accepted) runs accepted, the store holds \(runs.count)")
        }
        let completed = runs.count { run in run.finishedAt.map { $0 >= start && $0 <= end } ?? false }
        return (completed, runs.count)
    }
}
