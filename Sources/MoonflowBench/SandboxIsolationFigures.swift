import Foundation
import MoonflowLua
import MoonflowModel

/// The second wall's cost (docs/sandbox.md): one tiny code action per call in process and in a
/// sandbox helper, each call timed alone from a runner thread (where the engine calls scripts),
/// their p50 and p99 and the difference; the round trip of a bare socket pair between two threads
/// (the floor of any helper call); a helper's throughput; how soon a spent helper is replaced (the
/// spare handed over) and how long a helper takes to start cold.
enum SandboxIsolationFigures {
    static let calls = 2_000

    static func measure(_ context: BenchContext, scenario: String) async throws -> [BenchFigure] {
        let runner = IsolatingRunner(inProcess: LuaRunner(threads: 1), helpers: .init(helpers: 1, testLedger: nil))
        try runner.process.prestart(1)
        let inProcess = ScriptInvocation(chunk: ScriptChunk(source: "return input.n + 1", name: "bench.lua"), input: ["n": 41])
        var isolated = inProcess
        isolated.limits.isolation = .process
        let (local, helper) = try await withTaskExecutorPreference(runner.taskExecutor()) {
            // Alternated in blocks, so drift in the machine's load reaches both modes alike.
            var local: [Double] = []
            var helper: [Double] = []
            for _ in 0..<max(1, context.repetitions) {
                local += try await latencies(of: inProcess, runner, count: calls / 2)
                helper += try await latencies(of: isolated, runner, count: calls / 2)
            }
            return (local.sorted(), helper.sorted())
        }
        let floor = try socketPairRoundTrip(count: calls)
        let replacement = try await replacementReady(runner.process, count: 5)
        var cold = runner.process.settings
        cold.spare = false
        let start = try helperStart(cold, count: 5)

        let added50 = percentile(helper, 0.5) - percentile(local, 0.5)
        let added99 = percentile(helper, 0.99) - percentile(local, 0.99)
        let roundTrip = BenchFloor(name: "socket-pair round trip", nanos: floor)
        let mean = helper.reduce(0, +) / Double(helper.count)
        func figure(_ metric: String, _ nanos: Double, _ checked: String, unit: String = "call", floor: BenchFloor? = nil, target: BenchTarget? = nil) -> BenchFigure {
            BenchFigure(scenario: scenario, metric: metric, nanosPerOp: nanos, unit: unit, checked: checked, floor: floor, target: target)
        }
        return [
            figure("in process p50", percentile(local, 0.5), "output 42"),
            figure("in process p99", percentile(local, 0.99), "output 42"),
            figure("process isolation p50", percentile(helper, 0.5), "output 42", floor: roundTrip),
            figure("process isolation p99", percentile(helper, 0.99), "output 42", floor: roundTrip),
            figure("added by isolation p50", added50, "p50 process − in process", target: .atMost(added50, 15_000, "≤ +15 µs at p50")),
            figure("added by isolation p99", added99, "p99 process − in process", target: .atMost(added99, 60_000, "≤ +60 µs at p99")),
            figure(
                "one helper's executions", mean, String(format: "%.0f executions/s", 1e9 / mean),
                target: .atMost(mean, 50_000, "≥ 20k tiny executions/s per helper")),
            figure("socket-pair round trip", floor, "8 bytes echoed by a thread"),
            figure(
                "new helper ready", replacement, "a spent helper replaced, the spare handed over", unit: "helper",
                target: .atMost(replacement, 5_000_000, "≤ 5 ms")),
            figure("cold helper start", start, "hello received", unit: "helper"),
        ]
    }

    /// Median time from the need of a replacement (an idle helper spent) to a helper ready to
    /// run, with the spare waiting as it waits between replacements.
    private static func replacementReady(_ runner: ProcessScriptRunner, count: Int) async throws -> Double {
        var times: [Double] = []
        for _ in 0..<count {
            for _ in 0..<6_000 where !runner.hasSpare { try await Task.sleep(for: .milliseconds(5)) }
            guard runner.hasSpare else { throw BenchError(description: "the spare helper did not start") }
            let took = try runner.replaceIdleHelper()
            times.append(Double(took.components.seconds) * 1e9 + Double(took.components.attoseconds) / 1e9)
        }
        return percentile(times.sorted(), 0.5)
    }

    private static func latencies(of invocation: ScriptInvocation, _ runner: IsolatingRunner, count: Int) async throws -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let start = DispatchTime.now().uptimeNanoseconds
            let outcome = try await runner.run(invocation)
            out.append(Double(DispatchTime.now().uptimeNanoseconds - start))
            guard outcome.output == 42 else { throw BenchError(description: "script returned \(outcome.output)") }
        }
        return out
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.down)))]
    }

    /// Median time to start a helper and receive its `hello` (a replacement's wait).
    private static func helperStart(_ settings: ProcessScriptRunner.Settings, count: Int) throws -> Double {
        var times: [Double] = []
        for _ in 0..<count {
            let runner = ProcessScriptRunner(settings: settings)
            let start = DispatchTime.now().uptimeNanoseconds
            try runner.prestart(1)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start))
        }
        return percentile(times.sorted(), 0.5)
    }

    /// Median round trip of 8 bytes over a socket pair, echoed by another thread.
    private static func socketPairRoundTrip(count: Int) throws -> Double {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw BenchError(description: "socketpair failed") }
        defer {
            close(fds[0])
            close(fds[1])
        }
        let echo = fds[1]
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 8)
            while read(echo, &buffer, 8) == 8 { _ = write(echo, buffer, 8) }
        }
        thread.start()
        var buffer = [UInt8](repeating: 7, count: 8)
        var times: [Double] = []
        times.reserveCapacity(count)
        for _ in 0..<count {
            let start = DispatchTime.now().uptimeNanoseconds
            guard write(fds[0], buffer, 8) == 8, read(fds[0], &buffer, 8) == 8 else { throw BenchError(description: "socket pair echo failed") }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start))
        }
        shutdown(fds[0], Int32(SHUT_RDWR))
        return percentile(times.sorted(), 0.5)
    }
}
