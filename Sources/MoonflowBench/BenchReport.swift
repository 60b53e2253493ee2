import Foundation
package import MoonflowModel
import OrderedCollections

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
package struct BenchReport: Sendable {
    var machine: BenchMachine
    var store: BenchStore
    var repetitions: Int
    var floors: [BenchFloor]
    var figures: [BenchFigure]

    package var json: Value {
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

    package var text: String {
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
