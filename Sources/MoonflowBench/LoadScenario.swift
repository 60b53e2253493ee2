import Foundation
import MoonflowRuntime

/// `load`: 1,000 generated workflow files loaded and validated as `moonflow validate` does (YAML,
/// the workflow model, references, the graph, and every inline script and expression compiled by
/// the Lua checker). The floor is reading the same files and running libyaml's event loop over
/// them, without our node model: what any YAML-based loader pays at least.
struct LoadScenario: BenchScenario {
    let name = "load"
    static let files = 1_000

    /// A realistic file: a retry policy, five activities with inline Lua, dependencies, an input
    /// template and a condition. Each file differs (its id and constants), as a project's do.
    static func workflow(_ index: Int) -> String {
        """
        workflow: generated_\(index)
        version: "\(index % 7 + 1)"
        description: Generated workflow \(index) for the load benchmark
        context: {total: 0, label: "w\(index)"}
        policies:
          retry:
            standard: {max_attempts: 3, backoff: {initial: 1s, multiplier: 2, max: 30s, jitter: full}}
        error_handling:
          activity_error:
            retry: standard
        activities:
          - name: fetch
            run: |
              local items = {}
              for i = 1, \(index % 5 + 3) do items[i] = {id = i, price = i * \(index % 11 + 1)} end
              return {items = items}
          - name: price
            needs: [fetch]
            with:
              items: ${ steps.fetch.output.items }
            run: |
              local sum = 0
              for _, item in ipairs(input.items) do sum = sum + item.price end
              workflow.total = sum
              return {sum = sum}
          - name: check
            needs: [price]
            when: ${ steps.price.output.sum > \(index % 13) }
            timeout: 5s
            run: |
              if workflow.total < 0 then error({type = "Negative", message = "total below zero", retryable = false}) end
              return {ok = true}
          - name: notify
            needs: [check]
            call: log
            with:
              message: "total ${ workflow.total } for ${ workflow.label }"
          - name: archive
            needs: [price]
            run: |
              return {archived = string.format("%s-%d", workflow.label, workflow.total)}

        """
    }

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        var files: [String: String] = [:]
        for i in 0..<Self.files { files[String(format: "generated_%04d.yaml", i)] = Self.workflow(i) }
        let project = try BenchProject(files: files)
        defer { project.remove() }
        let urls = Runtime.loader(project: project.directory).workflowFiles()
        guard urls.count == Self.files else { throw BenchError(description: "load: \(urls.count) files written") }

        var events = 0
        let floor = try Bench.medianNanos(repetitions: context.repetitions, operations: Self.files) {
            events = 0
            for url in urls {
                guard let data = FileManager.default.contents(atPath: url.path), let count = YAMLFloorProbe.countEvents([UInt8](data)) else {
                    throw BenchError(description: "load: libyaml refused \(url.lastPathComponent)")
                }
                events += count
            }
        }
        guard events > 0 else { throw BenchError(description: "load: libyaml produced no events") }

        var activities = 0
        let load = try Bench.medianNanos(repetitions: context.repetitions, operations: Self.files) {
            let result = project.load()
            guard result.isValid, result.workflows.count == Self.files else {
                throw BenchError(description: "load: expected \(Self.files) valid workflows, got \(result.workflows.count):\n\(result.renderedDiagnostics())")
            }
            activities = result.workflows.reduce(0) { $0 + $1.workflow.activities.count }
        }
        try Bench.check(.int(Int64(activities)), equals: .int(Int64(Self.files * 5)), "load: activities loaded")
        let total = load * Double(Self.files)
        return [
            BenchFigure(
                scenario: name, metric: "1,000 files loaded + validated", nanosPerOp: load, unit: "file",
                checked: "1,000 valid workflows, 5,000 activities",
                floor: BenchFloor(name: "read + libyaml event loop of the same file", nanos: floor),
                target: .atMost(total, 1e9, "1,000 files < 1 s (\(String(format: "%.0f", total / 1e6)) ms)"))
        ]
    }
}
