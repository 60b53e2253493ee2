import ArgumentParser
import Foundation
import MoonflowLua
import MoonflowModel
import MoonflowStore
import OrderedCollections

/// `moonflow bench`: runs the registered scenarios and prints each figure with its ratio to the
/// floor measured in the same run. A scenario whose checked result is wrong fails the command.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Run the performance scenarios of docs/performance.md.",
        discussion: """
            Every figure is the median of --repetitions measurements, and is also given as a ratio to a \
            floor measured in the same run (a bare lua_pcall, libyaml's event loop), so results compare \
            across machines. Every scenario checks what it computed: a wrong answer exits 1.
            """)

    /// Every scenario `moonflow bench` knows, in the order they run; add new ones here.
    static let scenarios: [any BenchScenario] = [
        Seq40Scenario(), Par10Scenario(), Runs3Scenario(), ConcurrentScenario(), LoadScenario(), SandboxScenario(),
        SchemaScenario(),
        // Last: it starts the server, which bootstraps the process's metrics backend for what follows.
        ReloadScenario(),
    ]

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Run only this scenario (repeatable): \(Self.scenarios.map(\.name).joined(separator: ", ")).")
    var scenario: [String] = []

    @Option(name: .long, help: "Where the engine scenarios keep runs: memory or sqlite (a fresh file per engine).")
    var store: String = "memory"

    @Option(name: .long, help: "SQLite synchronous level with --store sqlite: full or normal.")
    var sync: String = "full"

    @Option(name: .long, help: "Repetitions of each measurement (the median is reported).")
    var repetitions: Int = 7

    func validate() throws {
        let known = Set(Self.scenarios.map(\.name))
        if let unknown = scenario.first(where: { !known.contains($0) }) {
            throw ValidationError("--scenario: unknown scenario '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        guard ["memory", "sqlite"].contains(store) else { throw ValidationError("--store: memory or sqlite") }
        guard ["full", "normal"].contains(sync) else { throw ValidationError("--sync: full or normal") }
        guard repetitions >= 1 else { throw ValidationError("--repetitions: at least 1") }
    }

    func run() async throws {
        let selected = Self.scenarios.filter { scenario.isEmpty || scenario.contains($0.name) }
        let report = try await Self.measure(
            selected, repetitions: repetitions, store: store == "sqlite" ? .sqlite(sync == "normal" ? .normal : .full) : .memory)
        switch global.format {
        case .json: print(report.json.jsonString(pretty: true))
        case .text: print(report.text)
        }
    }

    /// Measures the floors, then runs `scenarios`; a scenario that fails its check ends the command
    /// with exit status 1.
    static func measure(_ scenarios: [any BenchScenario], repetitions: Int, store: BenchStore) async throws -> BenchReport {
        let luaFloor: BenchFloor
        do {
            luaFloor = try BenchFloors.luaPcall(repetitions: repetitions)
        } catch {
            printError("error: floor: \(error)")
            throw MoonflowExit.failure
        }
        var commitFloor: BenchFloor?
        if case .sqlite(let synchronous) = store {
            commitFloor = BenchFloor(
                name: "bare SQLite commit (WAL, synchronous=\(synchronous.rawValue))",
                nanos: try SQLiteCommitFloor.measure(synchronous: synchronous, repetitions: repetitions))
        }
        let context = BenchContext(repetitions: repetitions, store: store, luaFloor: luaFloor, commitFloor: commitFloor)
        var figures: [BenchFigure] = []
        let progress = ProgressLine()
        for (index, candidate) in scenarios.enumerated() {
            progress.show("bench: scenario \(index + 1)/\(scenarios.count): \(candidate.name)")
            do {
                figures += try await candidate.run(context)
            } catch {
                progress.clear()
                printError("error: scenario \(candidate.name): \(error)")
                throw MoonflowExit.failure
            }
        }
        progress.clear()
        return BenchReport(
            machine: .current, store: store, repetitions: repetitions, floors: [luaFloor] + (commitFloor.map { [$0] } ?? []), figures: figures)
    }
}

/// The floors every run measures first.
enum BenchFloors {
    /// A bare `lua_pcall` of `function(n) return n + 1 end`.
    static func luaPcall(repetitions: Int) throws -> BenchFloor {
        guard let probe = LuaFloorProbe() else { throw BenchError(description: "could not open a Lua state") }
        var sum: Int64 = 0
        let calls = 20_000
        let nanos = Bench.medianNanos(repetitions: repetitions, operations: calls) {
            for i in 0..<calls { sum &+= probe.call(Int64(i)) }
        }
        // Each repetition adds the sum of 1...calls.
        try Bench.check(.int(sum), equals: .int(Int64(repetitions * calls * (calls + 1) / 2)), "lua_pcall floor")
        return BenchFloor(name: "bare lua_pcall", nanos: nanos)
    }
}

/// The machine a run was measured on, printed with the figures.
struct BenchMachine: Sendable {
    var cpus: Int
    var cpuModel: String

    static var current: BenchMachine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
        return BenchMachine(cpus: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model ?? "unknown")
    }
}

/// Everything one `moonflow bench` printed.
struct BenchReport: Sendable {
    var machine: BenchMachine
    var store: BenchStore
    var repetitions: Int
    var floors: [BenchFloor]
    var figures: [BenchFigure]

    var json: Value {
        [
            "machine": ["cpus": .int(Int64(machine.cpus)), "cpu_model": .string(machine.cpuModel)],
            "store": .string(store.description), "repetitions": .int(Int64(repetitions)),
            "floors": .array(floors.map { ["name": .string($0.name), "ns": .double($0.nanos)] }),
            "scenarios": .array(figures.map(Self.json)),
        ]
    }

    static func json(_ figure: BenchFigure) -> Value {
        var object: OrderedDictionary<String, Value> = [
            "scenario": .string(figure.scenario), "metric": .string(figure.metric), "checked": .string(figure.checked),
            "unit": .string(figure.unit), "median_ns": .double(figure.nanosPerOp),
        ]
        if figure.unit == "step" { object["us_per_step"] = .double(figure.nanosPerOp / 1000) }
        if let runs = figure.runsPerSecond { object["runs_per_second"] = .double(runs) }
        if let floor = figure.floor {
            object["floor"] = .string(floor.name)
            object["floor_ns"] = .double(floor.nanos)
        }
        if let ratio = figure.ratio { object["ratio"] = .double(ratio) }
        if let target = figure.target {
            object["target"] = .string(target.text)
            object["target_met"] = .bool(target.met)
        }
        return .object(object)
    }

    var text: String {
        var lines = [
            "machine: \(machine.cpus) CPUs, \(machine.cpuModel); store: \(store); median of \(repetitions)",
            "floors: " + floors.map { "\($0.name) \(String(format: "%.1f", $0.nanos)) ns" }.joined(separator: "; "),
            "",
        ]
        for figure in figures {
            let time = String(format: "%10.2f µs/%@", figure.nanosPerOp / 1000, figure.unit)
            let runs = figure.runsPerSecond.map { String(format: "  %9.0f runs/s", $0) } ?? ""
            let ratio = figure.ratio.map { String(format: "  %8.1f× floor", $0) } ?? ""
            let target = figure.target.map { "  [\($0.met ? "met" : "NOT MET"): \($0.text)]" } ?? ""
            lines.append(
                "\(figure.scenario.padding(toLength: 11, withPad: " ", startingAt: 0))"
                    + "\(figure.metric.padding(toLength: 33, withPad: " ", startingAt: 0))\(time)\(runs)\(ratio)  (\(figure.checked))\(target)")
        }
        return lines.joined(separator: "\n")
    }
}
