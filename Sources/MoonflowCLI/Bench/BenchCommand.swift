import ArgumentParser
import MoonflowModel
import OrderedCollections

/// `moonflow bench`: runs the registered scenarios and prints each figure with its ratio to the
/// floor measured in the same run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Run performance scenarios.")

    /// Every scenario `moonflow bench` knows; add new ones here.
    static let scenarios: [any BenchScenario] = [SandboxScenario(), SchemaScenario()]

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Run only this scenario (repeatable).")
    var scenario: [String] = []

    @Option(name: .long, help: "Repetitions of each measurement (the median is reported).")
    var repetitions: Int = 15

    func run() async throws {
        let known = Set(Self.scenarios.map(\.name))
        if let unknown = scenario.first(where: { !known.contains($0) }) {
            printError("error: --scenario: unknown scenario '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
            throw MoonflowExit.usage
        }
        var figures: [BenchFigure] = []
        for candidate in Self.scenarios where scenario.isEmpty || scenario.contains(candidate.name) {
            do {
                figures += try await candidate.run(repetitions: max(1, repetitions))
            } catch {
                printError("error: scenario \(candidate.name): \(error)")
                throw MoonflowExit.failure
            }
        }
        switch global.format {
        case .json: print(Value.array(figures.map(Self.json)).jsonString(pretty: true))
        case .text: for figure in figures { print(Self.text(figure)) }
        }
    }

    static func text(_ figure: BenchFigure) -> String {
        let nanos = String(format: "%12.1f ns/op", figure.nanosPerOp)
        let ratio = figure.ratio.map { String(format: "  %7.1fx %@", $0, figure.floor ?? "") } ?? ""
        return "\(figure.scenario)  \(figure.metric.padding(toLength: 28, withPad: " ", startingAt: 0))\(nanos)\(ratio)  [\(figure.checked)]"
    }

    static func json(_ figure: BenchFigure) -> Value {
        var object: OrderedDictionary<String, Value> = [
            "scenario": .string(figure.scenario), "metric": .string(figure.metric), "ns_per_op": .double(figure.nanosPerOp),
            "checked": .string(figure.checked),
        ]
        if let floor = figure.floor { object["floor"] = .string(floor) }
        if let ratio = figure.ratio { object["ratio"] = .double(ratio) }
        return .object(object)
    }
}
