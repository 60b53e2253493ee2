import ArgumentParser
import Foundation
@testable import MoonflowBench
@testable import MoonflowCLI
import MoonflowModel
import Testing

/// `moonflow bench`: the JSON it prints and the answers its scenarios check. Timings are never
/// asserted here (docs/performance.md: performance is measured by the benchmark, not by unit tests).
@Suite("moonflow bench")
struct BenchCommandTests {
    @Test func seq40AndPar10PrintCheckedFiguresAsJSON() async throws {
        let result = try await CLIRunner.run(["bench", "--scenario", "seq40", "--scenario", "par10", "--repetitions", "1", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Value(json: result.stdout)
        #expect(report["store"] == "memory")
        #expect(report["repetitions"] == 1)
        #expect(report["machine"]?["cpus"]?.intValue ?? 0 >= 1)
        #expect(report["floors"]?.arrayValue?.first?["name"] == "bare lua_pcall")
        let figures = report["scenarios"]?.arrayValue ?? []
        #expect(Set(figures.compactMap { $0["scenario"]?.stringValue }) == ["seq40", "par10"])
        for figure in figures {
            for key in ["metric", "checked", "unit", "median_ns", "floor", "floor_ns", "ratio"] {
                #expect(figure[key] != nil, "\(figure["metric"] ?? .null) has no \(key)")
            }
        }
        func figure(_ metric: String) -> Value? { figures.first { $0["metric"]?.stringValue == metric } }
        #expect(figure("run of 40 Lua steps")?["checked"] == "output 40")
        #expect(figure("run of 40 Lua steps")?["runs_per_second"]?.numberValue != nil)
        #expect(figure("run of 40 Lua steps")?["us_per_step"]?.numberValue != nil)
        #expect(figure("engine overhead (step − script)")?["target_met"]?.boolValue != nil)
        #expect(figure("engine overhead (call: noop)")?["checked"] == "40 noop steps completed")
        #expect(figure("run of 10 parallel steps + join")?["checked"] == "output 10")
    }

    @Test func sandboxScenarioReportsEveryFigure() async throws {
        let result = try await CLIRunner.run(["bench", "--scenario", "sandbox", "--repetitions", "1", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Value(json: result.stdout)
        #expect(report["floors"]?.arrayValue?.first?["name"] == "bare lua_pcall")
        let metrics = (report["scenarios"]?.arrayValue ?? []).compactMap { $0["metric"]?.stringValue }
        #expect(
            metrics == [
                "sandboxed run (sync)", "sandboxed run (async pool)", "expression (sync)", "fresh state per run (sync)",
                "in process p50", "in process p99", "process isolation p50", "process isolation p99", "added by isolation p50",
                "added by isolation p99", "one helper's executions", "socket-pair round trip", "new helper ready", "cold helper start",
            ])
        let added = (report["scenarios"]?.arrayValue ?? []).first { $0["metric"] == "added by isolation p50" }
        #expect(added?["target_met"]?.boolValue != nil)
    }

    /// The real server over a temporary project: each save must be served and checked (hash and a
    /// run of the new version) before it counts.
    @Test func reloadScenarioServesEverySaveAndReportsIt() async throws {
        let result = try await CLIRunner.run(["bench", "--scenario", "reload", "--repetitions", "2", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Value(json: result.stdout)
        let figures = report["scenarios"]?.arrayValue ?? []
        #expect(figures.compactMap { $0["metric"]?.stringValue } == ["save → new version serving", "load + validate the project once"])
        let reload = try #require(figures.first)
        #expect(reload["scenario"] == "reload")
        #expect(reload["unit"] == "reload")
        #expect(reload["median_ns"]?.numberValue ?? 0 > 0)
        #expect(reload["floor"]?.stringValue?.hasPrefix("watcher wait by design") == true)
        #expect(reload["floor_ns"]?.numberValue == 125e6)
        #expect(reload["ratio"]?.numberValue != nil)
        #expect(reload["target_met"]?.boolValue != nil)
        #expect(reload["checked"]?.stringValue?.contains("new hash") == true)
    }

    /// The real server under wrk: every run the store holds must have completed before the
    /// figure counts (make test-deps installs wrk).
    @Test(.enabled(if: Self.wrkInstalled, "wrk is not installed: make test-deps installs it"))
    func httpScenarioDrivesEveryAcceptedRunToCompletion() async throws {
        let result = try await CLIRunner.run(["bench", "--scenario", "http", "--repetitions", "1", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let figures = try Value(json: result.stdout)["scenarios"]?.arrayValue ?? []
        #expect(figures.compactMap { $0["metric"]?.stringValue } == ["runs started + driven over HTTP", "starts accepted over HTTP (201)"])
        let driven = try #require(figures.first)
        #expect(driven["unit"] == "run")
        #expect(driven["runs_per_second"]?.numberValue ?? 0 > 0)
        #expect(driven["floor"]?.stringValue?.hasPrefix("wrk → GET /health") == true)
        #expect(driven["ratio"]?.numberValue != nil)
        #expect(driven["target"] == "≥ 10,000 runs/s driven to completion")
        #expect(driven["checked"]?.stringValue?.hasPrefix("every run completed, none lost") == true)
    }

    @Test func httpScenarioSaysSoWhenWrkIsMissing() async throws {
        let result = try await CLIRunner.run(["bench", "--scenario", "http", "--repetitions", "1"], environment: ["PATH": "/nonexistent"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("the load generator wrk is not installed"))
        #expect(result.stderr.contains("apt-get install wrk"))
    }

    static var wrkInstalled: Bool { (try? WrkLoad.locate()) != nil }

    @Test func unknownScenarioIsAUsageError() async throws {
        let result = try await CLIRunner.run(["bench", "--scenario", "nope"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("unknown scenario 'nope'"))
    }

    /// A scenario that computes the wrong answer fails the command with exit status 1, however fast it was.
    @Test func aWrongAnswerFailsTheBench() async throws {
        struct WrongAnswer: BenchScenario {
            let name = "wrong"
            func run(_ context: BenchContext) async throws -> [BenchFigure] {
                try Bench.check(.int(1 + 1), equals: 3, "deliberately wrong expectation")
                return [BenchFigure(scenario: name, metric: "never", nanosPerOp: 1, checked: "never")]
            }
        }
        await #expect(throws: ExitCode(1)) {
            _ = try await BenchCommand.measure([WrongAnswer()], repetitions: 1, store: .memory)
        }
    }

    @Test func checkComparesValues() throws {
        try Bench.check(40, equals: 40, "same")
        #expect(throws: BenchError.self) { try Bench.check(39, equals: 40, "off by one") }
        #expect(throws: BenchError.self) { try Bench.check(nil, equals: 40, "missing") }
    }
}

/// `moonflow bench --store postgres://…`: a URL that does not read is refused before anything runs.
@Suite struct BenchPostgresStoreTests {
    @Test func aBadPostgresURLIsRefusedAsUsage() async throws {
        let result = try await CLIRunner.run(["bench", "--scenario", "seq40", "--store", "postgres://nobody@host"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("the database is missing"))
    }
}
