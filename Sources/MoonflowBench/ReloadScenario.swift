import Foundation
import Logging
import MoonflowModel
import MoonflowRuntime
import MoonflowServer
import ServiceLifecycle

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `reload`: the time from saving a changed file to the new version serving (docs/reload.md, docs/performance.md: < 500 ms).
/// The real server (`MoonflowServer.makeApplication` over a served `Runtime`, with its file watcher
/// at the defaults `moonflow serve` uses) runs in this process on a free loopback port over a temporary project.
/// Each repetition saves a new version of the workflow or of the script it uses, the way editors
/// do (a temporary file renamed over the original), and polls `GET /v1/workflows/reload` until the
/// hash changes. Then, outside the timing, the new version is checked: the served hash is the one
/// the loader computes for the files now on disk, and a run started through the API returns what
/// the new files say.
///
/// The floor is the wait the watcher imposes by design: half a poll interval on average to see the
/// change, then the debounce (the fingerprint must stay stable that long). Whatever is above it is
/// reading and validating the project, swapping the catalog and the HTTP round trips.
struct ReloadScenario: BenchScenario {
    let name = "reload"
    /// Workflows besides the one that changes: a reload validates the whole project.
    static let otherWorkflows = 5
    static let pollInterval = Duration.milliseconds(5)
    static let timeout = Duration.seconds(10)

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        var files: [String: String] = [:]
        for i in 0..<Self.otherWorkflows { files["generated_\(i).yaml"] = LoadScenario.workflow(i) }
        files["reload.yaml"] = Self.workflow(version: 0)
        let project = try BenchProject(files: files)
        defer { project.remove() }
        try project.write("scripts/reload_value.lua", Self.script(version: 0))

        var loaded = 0
        let load = try Bench.medianNanos(repetitions: context.repetitions, operations: 1) {
            let result = project.load()
            guard result.isValid else { throw BenchError(description: "reload: invalid project:\n\(result.renderedDiagnostics())") }
            loaded = result.workflows.count
        }
        try Bench.check(.int(Int64(loaded)), equals: .int(Int64(Self.otherWorkflows + 1)), "reload: workflows loaded")

        var logger = Logger(label: "moonflow.bench.reload")
        logger.logLevel = .error
        let serving = ServingOptions()
        let floor = BenchFloor(
            name: "watcher wait by design (½ × \(serving.watchInterval) poll + \(serving.debounce) debounce)",
            nanos: Bench.nanos(serving.watchInterval / 2 + serving.debounce))
        let runtime = try Runtime.make(
            RuntimeOptions(project: project.directory, store: .memory, logger: logger, serving: serving))
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let application = try MoonflowServer.makeApplication(ServerOptions(port: 0, insecureNoAuth: true), runtime: runtime) { port in
            portContinuation.yield(port)
        }
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        let nanos = try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { portContinuation.finish() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw BenchError(description: "reload: the server did not start") }
            let client = ReloadClient(port: port)
            let result: Result<Double, any Error>
            do {
                result = .success(try await Self.measure(project, client, repetitions: context.repetitions))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
        let checked = "new hash = loader's hash of the saved files; a run of it returns the saved version"
        return [
            BenchFigure(
                scenario: name, metric: "save → new version serving", nanosPerOp: nanos, unit: "reload", checked: checked,
                floor: floor, target: .atMost(nanos, 500e6, "< 500 ms from save to serving")),
            BenchFigure(
                scenario: name, metric: "load + validate the project once", nanosPerOp: load, unit: "load",
                checked: "\(Self.otherWorkflows + 1) valid workflows"),
        ]
    }

    /// Saves `repetitions` new versions, alternating the workflow file and its script, and returns
    /// the median nanoseconds from the save to the new hash being served.
    private static func measure(_ project: BenchProject, _ client: ReloadClient, repetitions: Int) async throws -> Double {
        var served = try await client.hash()
        var versions = (workflow: 0, script: 0)
        var samples: [Double] = []
        let clock = ContinuousClock()
        for repetition in 1...repetitions {
            let start = clock.now
            if repetition % 2 == 1 {
                versions.workflow = repetition
                try project.save("workflows/reload.yaml", workflow(version: versions.workflow))
            } else {
                versions.script = repetition
                try project.save("scripts/reload_value.lua", script(version: versions.script))
            }
            var hash = served
            while hash == served {
                guard clock.now - start < timeout else { throw BenchError(description: "reload: version \(repetition) not served within \(timeout)") }
                try await Task.sleep(for: pollInterval)
                hash = try await client.hash()
            }
            samples.append(Bench.nanos(clock.now - start))
            served = hash
            try await check(project, client, hash: hash, versions: versions)
        }
        return Bench.median(samples)
    }

    /// The served hash is the loader's for the files on disk, and a new run computes what they say.
    private static func check(_ project: BenchProject, _ client: ReloadClient, hash: String, versions: (workflow: Int, script: Int)) async throws {
        let expected = project.load().workflows.first { $0.workflow.id == "reload" }?.contentHash
        try Bench.check(.string(hash), equals: expected.map(Value.string) ?? .null, "reload: served hash")
        let report = try await client.runReport()
        try Bench.check(report["definition_hash"], equals: .string(hash), "reload: the new run's definition hash")
        try Bench.check(
            report["output"], equals: ["workflow": .int(Int64(versions.workflow)), "script": .int(Int64(versions.script))],
            "reload: the new run's output")
    }

    /// The workflow that changes: one activity runs the script, the next returns both versions.
    static func workflow(version: Int) -> String {
        """
        workflow: reload
        description: The workflow the reload benchmark saves again and again
        activities:
          - name: value
            script: reload_value
          - name: answer
            needs: [value]
            run: |
              return {workflow = \(version), script = steps.value.output}

        """
    }

    static func script(version: Int) -> String { "return \(version)\n" }
}

/// The few API calls the reload scenario makes, through Foundation's URLSession (no token: the
/// server runs with `--insecure-no-auth` on loopback).
private struct ReloadClient {
    let port: Int

    func hash() async throws -> String {
        guard let hash = try await send("GET", "/v1/workflows/reload")["hash"]?.stringValue else {
            throw BenchError(description: "reload: GET /v1/workflows/reload has no hash")
        }
        return hash
    }

    /// Starts a run of `reload` and returns its report once it has ended.
    func runReport() async throws -> Value {
        guard let id = try await send("POST", "/v1/runs", body: ["workflow": "reload"])["run_id"]?.stringValue else {
            throw BenchError(description: "reload: POST /v1/runs returned no run_id")
        }
        let deadline = ContinuousClock.now + ReloadScenario.timeout
        while ContinuousClock.now < deadline {
            let report = try await send("GET", "/v1/runs/\(id)/report")
            if report["finished_at"]?.stringValue != nil { return report }
            try await Task.sleep(for: ReloadScenario.pollInterval)
        }
        throw BenchError(description: "reload: run \(id) did not finish within \(ReloadScenario.timeout)")
    }

    private func send(_ method: String, _ path: String, body: Value? = nil) async throws -> Value {
        guard let url = URL(string: "http://127.0.0.1:\(port)\(path)") else { throw BenchError(description: "reload: bad path \(path)") }
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = method
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.jsonString().utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let text = String(decoding: data, as: UTF8.self)
        guard (200..<300).contains(status) else {
            throw BenchError(description: "reload: \(method) \(path) answered \(status): \(text)")
        }
        return try Value(json: text)
    }
}
