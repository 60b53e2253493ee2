import AsyncHTTPClient
import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime

/// `http_call`: the cost of a `call: http` step beyond the request itself (docs/integrations.md).
/// A local service answers `{"ok":true}` at once; runs of 40 sequential `call: http` steps through
/// a connection to it are timed per step, and the floor is the same request made directly with
/// async-http-client (keep-alive, one after another). The overhead is their difference: the
/// engine's step, the connector's checks, headers, body read and redaction. Then 1,000 runs of
/// one step are started at once, eight times, and the resident memory after the last batch compared
/// with that after the fifth (the first four warm the process) — on
/// a SQLite store whatever `--store` says: the in-memory store keeps every run it drove, so its
/// memory grows with the runs by design, not with the requests in flight.
struct HTTPCallScenario: BenchScenario {
    let name = "http_call"
    static let steps = 40
    static let runsPerRepetition = 5
    static let concurrentRuns = 1_000
    static let memoryBatches = 8
    /// Batches that warm the process before memory is compared.
    static let warmBatches = 4

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        let service = try await LocalHTTPService.start()
        let project = try BenchProject(files: [
            "http_call.yaml": Self.workflow(id: "http_call", steps: Self.steps),
            "http_one.yaml": Self.workflow(id: "http_one", steps: 1),
        ])
        defer { project.remove() }
        try project.write("moonflow.yaml", "connections: {svc: {url: 'http://127.0.0.1:\(service.port)', allow_private_network: true}}\n")
        let workflows = try project.loadValid()
        guard let sequential = workflows["http_call"], let one = workflows["http_one"] else { throw BenchError(description: "http_call: not loaded") }
        let engine = try await project.engine(context.store, configured: true)
        let output: Value = ["status": 200, "headers": ["content-type": "application/json", "content-length": "11"], "json": ["ok": true]]

        let raw = try await Self.rawRequestNanos(port: service.port, repetitions: context.repetitions)
        let perRun = try await EngineBench.nanosPerRun(
            engine, sequential, runs: Self.runsPerRepetition, output: output, repetitions: context.repetitions)
        let perStep = perRun / Double(Self.steps)
        let overhead = perStep - raw.nanos

        // Memory flat: eight batches of 1,000 runs at once. The first four warm what a process
        // keeps (the store file's page cache as it grows, the allocator's arenas, the client's
        // connections): over ten batches the resident size rose for five or six, then held
        // (149 → 188–197 MB; 131 → 166–169 MB with MALLOC_ARENA_MAX=1). A leak of per-request state
        // would go on growing, so the last batch is compared with the fifth.
        let batches = try await project.engine(.sqlite(.normal), configured: true)
        let before = Self.residentBytes()
        var after: [Int] = []
        for _ in 1...Self.memoryBatches {
            _ = try await EngineBench.nanosPerRun(batches, one, runs: Self.concurrentRuns, concurrently: true, output: output, repetitions: 1)
            after.append(Self.residentBytes())
        }
        await service.stop()
        let settled = after[Self.warmBatches]
        let growth = Double(after[after.count - 1] - settled) / Double(max(settled, 1))
        let memory =
            "RSS \(before >> 20) MB before, \(after.map { "\($0 >> 20)" }.joined(separator: ", ")) MB after each batch of 1,000 concurrent runs "
            + "(\(String(format: "%+.1f", growth * 100))% from the fifth to the last)"
        guard growth < 0.10 else { throw BenchError(description: "http_call: memory grew after the warm-up batches: \(memory)") }
        return [
            EngineBench.figure(
                name, "run of 40 call: http steps", nanosPerRun: perRun, steps: Self.steps,
                checked: "every step answered {\"ok\":true}, \(service.requests) requests served", floor: raw),
            BenchFigure(
                scenario: name, metric: "call: http overhead (step − raw request)", nanosPerOp: overhead, unit: "step",
                checked: memory, floor: raw, target: .atMost(overhead, 50_000, "≤ 50 µs per call: http step beyond the request")),
        ]
    }

    static func workflow(id: String, steps: Int) -> String {
        var text = "workflow: \(id)\nactivities:\n"
        for i in 1...steps { text += "  - name: s\(i)\n    call: http\n    with: {connection: svc, path: /ok}\n" }
        return text
    }

    /// One GET of the service with async-http-client directly, keep-alive, one after another.
    static func rawRequestNanos(port: Int, repetitions: Int) async throws -> BenchFloor {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/ok")
        let calls = 200
        do {
            let nanos = try await Bench.medianNanos(repetitions: repetitions, operations: calls) {
                for _ in 0..<calls {
                    let response = try await client.execute(request, timeout: .seconds(10))
                    let body = try await response.body.collect(upTo: 1 << 10)
                    guard response.status == .ok, body.readableBytes == 11 else { throw BenchError(description: "http_call: the raw request failed") }
                }
            }
            try await client.shutdown()
            return BenchFloor(name: "the same GET with async-http-client directly (keep-alive)", nanos: nanos)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// The process's resident set, from /proc/self/statm.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let pages = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
