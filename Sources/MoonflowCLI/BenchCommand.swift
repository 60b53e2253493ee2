import ArgumentParser
import MoonflowBench
import MoonflowModel

/// `moonflow bench`: runs the registered scenarios (`Bench.scenarios`) and prints each figure with
/// its ratio to the floor measured in the same run. A scenario whose checked result is wrong fails
/// the command.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Run the performance scenarios of docs/performance.md.",
        discussion: """
            Every figure is the median of --repetitions measurements, and is also given as a ratio to a \
            floor measured in the same run (a bare lua_pcall, libyaml's event loop), so results compare \
            across machines. Every scenario checks what it computed: a wrong answer exits 1.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Run only this scenario (repeatable): \(Bench.scenarios.map(\.name).joined(separator: ", ")).")
    var scenario: [String] = []

    @Option(
        name: .long,
        help: "Where the engine scenarios keep runs: memory, sqlite (a fresh file per engine) or a postgres://user:password@host:port/database URL (one database for every engine; tls disabled).")
    var store: String = "memory"

    @Option(name: .long, help: "SQLite synchronous level with --store sqlite: full or normal.")
    var sync: String = "full"

    @Option(name: .long, help: "Repetitions of each measurement (the median is reported).")
    var repetitions: Int = 7

    func validate() throws {
        let known = Set(Bench.scenarios.map(\.name))
        if let unknown = scenario.first(where: { !known.contains($0) }) {
            throw ValidationError("--scenario: unknown scenario '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        if PostgresLocation.isURL(store) {
            do { _ = try PostgresLocation(url: store) } catch { throw ValidationError("--store: \(error)") }
        } else if !["memory", "sqlite"].contains(store) {
            throw ValidationError("--store: memory, sqlite or a postgres:// URL")
        }
        guard ["full", "normal"].contains(sync) else { throw ValidationError("--sync: full or normal") }
        guard repetitions >= 1 else { throw ValidationError("--repetitions: at least 1") }
    }

    func run() async throws {
        let selected = Bench.scenarios.filter { scenario.isEmpty || scenario.contains($0.name) }
        let chosen: BenchStore =
            if let location = try? PostgresLocation(url: store, tls: .disable) {
                .postgres(location)
            } else {
                store == "sqlite" ? .sqlite(sync == "normal" ? .normal : .full) : .memory
            }
        let report = try await Self.measure(selected, repetitions: repetitions, store: chosen)
        switch global.format {
        case .json: print(report.json.jsonString(pretty: true))
        case .text: print(report.text)
        }
    }

    /// `Bench.measure` with a progress line; a scenario that fails its check (or a floor that
    /// cannot be measured) ends the command with exit status 1.
    static func measure(_ scenarios: [any BenchScenario], repetitions: Int, store: BenchStore) async throws -> BenchReport {
        let progress = ProgressLine()
        do {
            let report = try await Bench.measure(scenarios, repetitions: repetitions, store: store) { index, scenario in
                progress.show("bench: scenario \(index + 1)/\(scenarios.count): \(scenario.name)")
            }
            progress.clear()
            return report
        } catch let failure as BenchError {
            progress.clear()
            printError("error: \(failure)")
            throw MoonflowExit.failure
        }
    }
}
