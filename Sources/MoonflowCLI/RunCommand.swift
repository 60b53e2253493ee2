import ArgumentParser
import Foundation
import Logging
import MoonflowEngine
import MoonflowLoader
import MoonflowLua
import MoonflowModel

/// `moonflow run WORKFLOW`: starts a run and drives it in this process until it ends or waits,
/// then prints its execution report (SPEC §9, §10).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Start a run, drive it until it ends or waits, and print its report.",
        discussion: """
            Any workflow can be started this way, whatever its triggers. A `sleep` timer is waited for \
            in this process; a manual task is not. Exit status: 0 completed, 1 the run did not complete \
            (failed, compensated, timed out…) or the files are invalid, 2 usage error, unknown workflow \
            or an input that does not match the workflow's schema, 3 the run waits on a human.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A workflow id from workflows/, or a path to a workflow file.")
    var workflow: String

    @Option(name: .long, help: "The run input, as JSON.")
    var input: String?

    @Option(name: .customLong("input-file"), help: "A file holding the run input, as JSON.")
    var inputFile: String?

    @Option(name: .customLong("run-id"), help: "The run's id (a start with an existing id changes nothing).")
    var runID: String?

    @Option(name: .long, help: "Where runs are kept: memory (the durable SQLite store comes later).")
    var store: String = "memory"

    func validate() throws {
        if input != nil, inputFile != nil { throw ValidationError("--input and --input-file cannot be used together") }
        if store != "memory" { throw ValidationError("--store: only 'memory' is available in this build") }
    }

    func run() async throws {
        let loaded = try Composition.loadWorkflow(workflow, project: global.projectURL)
        let runInput = try readInput()
        let engine = Composition.engine(project: global.projectURL, store: InMemoryRunStore())
        let id: RunID
        do {
            id = try await engine.start(
                workflow: loaded.workflow, definitionHash: loaded.contentHash, input: runInput, runID: runID)
        } catch let failure as ActivityFailure {
            printError("error: \(failure)")
            throw MoonflowExit.usage
        }
        var status = try await engine.drive(id)
        var report = try await engine.report(id)
        // Durable timers (`sleep`) are waited for here; a human task is left waiting.
        while status == .waiting, !report.tasks.contains(where: { $0.status == .open }),
            let next = try await engine.nextTimer(of: id)
        {
            try await engine.clock.sleep(until: next)
            try await engine.fireDueTimers()
            report = try await engine.report(id)
            status = report.status
        }
        switch global.format {
        case .json: print(report.toValue().jsonString(pretty: true))
        case .text: print(report.renderText())
        }
        switch status {
        case .completed: return
        case .waiting:
            printError("the run waits on a manual task; with --store memory it is not kept after this process")
            throw MoonflowExit.waiting
        default: throw MoonflowExit.failure
        }
    }

    private func readInput() throws -> Value {
        let text: String
        if let input {
            text = input
        } else if let inputFile {
            guard let data = FileManager.default.contents(atPath: inputFile) else {
                printError("error: cannot read --input-file \(inputFile)")
                throw MoonflowExit.usage
            }
            text = String(decoding: data, as: UTF8.self)
        } else {
            return .object([:])
        }
        do {
            return try Value(json: text)
        } catch {
            printError("error: the input is not valid JSON: \(error)")
            throw MoonflowExit.usage
        }
    }
}

/// Child runs (`type: workflow`) start the project's current definition of the workflow named.
struct ProjectCatalog: WorkflowCatalog {
    let loader: ProjectLoader

    func workflow(id: String) async -> PinnedWorkflow? {
        guard let loaded = try? loader.loadWorkflow(id) else { return nil }
        return PinnedWorkflow(workflow: loaded.workflow, hash: loaded.contentHash)
    }
}

extension Composition {
    /// The engine over a store, with the Lua sandbox, the system clock and logs on standard error
    /// (standard output is for the report).
    static func engine(project: URL, store: any RunStore) -> Engine {
        var logger = Logger(label: "moonflow", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .warning
        return Engine(
            store: store, runner: LuaRunner(), clock: SystemClock(), random: SystemRandomSource(), logger: logger,
            catalog: ProjectCatalog(loader: loader(project: project)))
    }
}
