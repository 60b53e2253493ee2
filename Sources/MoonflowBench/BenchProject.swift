import Foundation
import Logging
import MoonflowEngine
import MoonflowLoader
import MoonflowModel
import MoonflowRuntime

/// A throw-away Moonflow project holding the generated workflows of the engine scenarios. They are
/// written as YAML and read back through the real loader (with the Lua checker), so a scenario runs
/// exactly what a user's file would.
struct BenchProject {
    let directory: URL

    /// Writes `files` (name → YAML text) under `workflows/` of a new temporary project.
    init(files: [String: String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-bench-\(UUID().uuidString)")
        let workflows = directory.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        for (name, text) in files {
            try Data(text.utf8).write(to: workflows.appendingPathComponent(name))
        }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// Writes `text` at `path` (relative to the project), creating its folder.
    func write(_ path: String, _ text: String) throws {
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// Saves `text` over `path` as editors do: a hidden temporary file (which `serve` ignores)
    /// renamed over the original, so a watcher never reads it half-written.
    func save(_ path: String, _ text: String) throws {
        let url = directory.appendingPathComponent(path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).swp")
        try Data(text.utf8).write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else { throw BenchError(description: "cannot rename over \(path): errno \(errno)") }
    }

    /// Loads and validates every workflow of the project, as `moonflow validate` does.
    func load() -> ProjectLoadResult { Runtime.loader(project: directory).loadProject() }

    /// The loaded workflows by id; throws with the diagnostics when a generated file is invalid.
    func loadValid() throws -> [String: LoadedWorkflow] {
        let result = load()
        guard result.isValid else { throw BenchError(description: "generated workflows are invalid:\n\(result.renderedDiagnostics())") }
        return Dictionary(uniqueKeysWithValues: result.workflows.map { ($0.workflow.id, $0) })
    }

    /// A project of one generated workflow, loaded, and an engine over it: what most engine
    /// scenarios start from. The caller removes the project.
    static func single(id: String, yaml: String, store: BenchStore) async throws -> (BenchProject, LoadedWorkflow, Engine) {
        let project = try BenchProject(files: ["\(id).yaml": yaml])
        do {
            guard let loaded = try project.loadValid()[id] else { throw BenchError(description: "\(id): not loaded") }
            return (project, loaded, try await project.engine(store))
        } catch {
            project.remove()
            throw error
        }
    }

    /// An engine composed as `moonflow run` composes it (`Runtime.make`), over the store the
    /// bench was asked for; with the project's moonflow.yaml when `configured`.
    func engine(_ store: BenchStore, configured: Bool = false) async throws -> Engine {
        try await runtime(store, configured: configured).engine
    }

    /// The runtime `engine(_:configured:)` takes its engine from (with its store).
    func runtime(_ store: BenchStore, configured: Bool = false) async throws -> Runtime {
        var config = configured ? try Runtime.configuration(project: directory).get() : EngineConfig()
        switch store {
        case .memory: config.store = .memory
        // A fresh file per engine; `remove()` deletes it with the project.
        case .sqlite(let synchronous): config.store = .sqlite(path: ".moonflow/state-\(UUID().uuidString).db", synchronous: synchronous)
        case .postgres(let location): config.store = .postgres(location)
        }
        let options = RuntimeOptions(
            project: directory, config: config, logger: Logger.escapedStandardError(label: "moonflow", level: .warning))
        return try await Runtime.open(options)
    }
}

/// The generated workflows of the engine scenarios.
enum BenchWorkflows {
    /// `count` Lua steps in list order (seed style): each adds 1 to `workflow.n` and returns it,
    /// so the run's output (the sink's) is `count`.
    static func sequential(id: String, count: Int) -> String {
        var text = "workflow: \(id)\ncontext: {n: 0}\nactivities:\n"
        for i in 1...count {
            text += "  - name: s\(i)\n    run: |\n      workflow.n = workflow.n + 1\n      return workflow.n\n"
        }
        return text
    }

    /// `count` steps of the built-in `noop` in list order: the engine's own cost per step.
    static func noop(id: String, count: Int) -> String {
        var text = "workflow: \(id)\nactivities:\n"
        for i in 1...count { text += "  - name: s\(i)\n    call: noop\n" }
        return text
    }

    /// `width` independent Lua steps returning 1, then a join that sums their outputs: output `width`.
    static func parallel(id: String, width: Int) -> String {
        let names = (1...width).map { "p\($0)" }
        var text = "workflow: \(id)\nactivities:\n"
        for name in names { text += "  - name: \(name)\n    run: return 1\n" }
        text += "  - name: join\n    needs: [\(names.joined(separator: ", "))]\n    run: |\n"
        text += "      return " + names.map { "steps.\($0).output" }.joined(separator: " + ") + "\n"
        return text
    }
}

extension Engine {
    /// Starts one run of `loaded` with an empty input and drives it to its end.
    func benchRun(_ loaded: LoadedWorkflow) async throws -> RunID {
        let id = try await start(workflow: loaded.workflow, definitionHash: loaded.contentHash, input: .object([:]))
        _ = try await drive(id)
        return id
    }

    /// Throws unless the run completed with `output`.
    func benchCheck(_ id: RunID, output: Value) async throws {
        let report = try await report(id)
        guard report.status == .completed else {
            throw BenchError(description: "run of \(report.workflow) ended \(report.status.rawValue): \(report.error.map { "\($0.type): \($0.message)" } ?? "")")
        }
        try Bench.check(report.output, equals: output, "output of \(report.workflow)")
    }
}
