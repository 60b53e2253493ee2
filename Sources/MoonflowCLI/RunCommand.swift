import ArgumentParser
import Foundation
import Logging
import MoonflowEngine
import MoonflowLoader
import MoonflowLua
import MoonflowModel
import MoonflowServer
import MoonflowStore

/// `moonflow run WORKFLOW`: starts a run and drives it in this process until it ends or waits,
/// then prints its execution report (docs/cli.md).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Start a run, drive it until it ends or waits, and print its report.",
        discussion: """
            Any workflow can be started this way, whatever its triggers. The run is kept in the store \
            (.moonflow/state.db by default). A `sleep` timer is waited for in this process; a manual \
            task is not: `moonflow tasks complete` continues the run. Exit status: 0 completed, 1 the \
            run did not complete (failed, compensated, timed out…), the files are invalid or the store \
            cannot be opened, 2 usage error, unknown workflow or an input that does not match the \
            workflow's schema, 3 the run waits on a human, or is queued behind max_workflows, and \
            was left in the store.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A workflow id from workflows/, or a path to a workflow file.")
    var workflow: String

    @Option(name: .long, help: "The run input, as JSON.")
    var input: String?

    @Option(name: .customLong("input-file"), help: "A file holding the run input, as JSON.")
    var inputFile: String?

    @Option(
        name: .customLong("run-id"),
        help: """
            The run's id: a letter or digit, then up to 199 letters, digits and . _ : ~ - \
            (a start repeating an existing id with the same workflow and input changes nothing).
            """)
    var runID: String?

    @Option(
        name: .long,
        help: "The run's place among queued runs under `strategy: priority`: low, normal, high, or an integer in -1000...1000.",
        transform: { text in
            guard let level = Priority.parse(text) else {
                throw ValidationError("--priority must be low, normal, high or an integer in -1000...1000, not '\(text)'")
            }
            return level
        })
    var priority: Int = 0

    @OptionGroup var storage: StoreOptions

    func validate() throws {
        if input != nil, inputFile != nil { throw ValidationError("--input and --input-file cannot be used together") }
        if let runID, let problem = RunIDRule.problem(with: runID) {
            throw ValidationError("--run-id '\(SafeText.display(runID))': \(problem); the rule is \(RunIDRule.pattern)")
        }
    }

    func run() async throws {
        // First, so that everything on standard error follows its logging.format.
        _ = try Composition.engineConfig(project: global.projectURL)
        let loaded = try Composition.loadWorkflow(workflow, project: global.projectURL)
        let runInput = try readInput()
        let (engine, store) = try Composition.engine(global, storage)
        let id: RunID
        do {
            id = try await engine.start(loaded.pinned, input: runInput, runID: runID, priority: priority)
        } catch let failure as ActivityFailure {
            printError("error: \(failure)")
            throw MoonflowExit.usage
        } catch let conflict as EngineError {
            guard case .runIDConflict = conflict else { throw conflict }
            printError("error: \(conflict)")
            throw MoonflowExit.usage
        }
        let report = try await Composition.driveUntilSettled(engine, id)
        switch global.format {
        case .json: print(report.toValue().jsonString(pretty: true))
        case .text: print(report.renderText())
        }
        switch report.status {
        case .completed: return
        case .waiting:
            printError(
                store is InMemoryRunStore
                    ? "the run waits on a manual task; with --store memory it is not kept after this process"
                    : "the run waits on a manual task; it is kept in the store: `moonflow tasks list`, then `moonflow tasks complete`")
            throw MoonflowExit.waiting
        case .queued:
            printError(
                "the run is queued: the runs of '\(report.workflow)' already hold every concurrency.max_workflows slot; "
                    + "it is kept in the store and starts when one frees (`moonflow runs resume`)")
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
        let value: Value
        do {
            value = try Value(json: text)
        } catch {
            printError("error: the input is not valid JSON: \(error)")
            throw MoonflowExit.usage
        }
        // As the API asks of a run's input (a workflow's `input` is an object of named values).
        guard value.objectValue != nil else {
            printError("error: the input must be a JSON object, not \(value.jsonString().prefix(40))")
            throw MoonflowExit.usage
        }
        return value
    }
}

/// Child runs (`type: workflow`) start the project's current definition of the workflow named.
struct ProjectCatalog: WorkflowCatalog {
    let loader: ProjectLoader

    func workflow(id: String) async -> PinnedWorkflow? {
        guard let loaded = try? loader.loadWorkflow(id) else { return nil }
        return loaded.pinned
    }
}

/// `--store PATH|memory`, shared by every command that reads or drives runs.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "Where runs are kept: a SQLite file, or memory (default: moonflow.yaml's store, else .moonflow/state.db).")
    var store: String?

    @Flag(
        name: .customLong("accept-wal-loss"),
        help: "Open a store whose WAL is damaged, keeping the transactions before the damage and dropping those after it (back the files up first; docs/durability.md).")
    var acceptWALLoss = false
}

extension Composition {
    /// The engine over the store the options and `moonflow.yaml` select, with the Lua sandbox,
    /// the system clock, logs on standard error (standard output is for the report), pinned
    /// definitions rebuilt by the loader, and `MOONFLOW_FAILPOINTS` (docs/testing.md).
    static func engine(_ global: GlobalOptions, _ storage: StoreOptions) throws -> (Engine, any RunStore) {
        let project = global.projectURL
        let config = try engineConfig(project: project)
        let store = try openStore(storage.store, project: project, config: config, acceptWALLoss: storage.acceptWALLoss)
        return (engine(project: project, store: store, limits: config.concurrency, resources: config.resources), store)
    }

    /// The engine over a given store, as every command (and the benchmark) composes it; `limits`
    /// is moonflow.yaml's engine-wide `concurrency`, `resources` its sandbox limits.
    static func engine(project: URL, store: any RunStore, limits: ConcurrencyLimits? = nil, resources: ScriptLimits = .defaults) -> Engine {
        let logger = Logger.escapedStandardError(label: "moonflow", level: .warning)
        return Engine(
            store: store, runner: LuaRunner(), clock: SystemClock(), random: SystemRandomSource(), logger: logger,
            validator: schemaValidator(project: project), catalog: ProjectCatalog(loader: loader(project: project)),
            resolver: PinnedDefinitionLoader(loader: loader(project: project)),
            failpoints: Failpoints(ProcessInfo.processInfo.environment["MOONFLOW_FAILPOINTS"] ?? ""), limits: limits,
            resources: resources)
    }

    /// `moonflow.yaml` of the project (defaults without it), or the `--config` file given (which
    /// must exist); an invalid file exits 1.
    /// Its `logging.format` becomes the format of every line on standard error from then on.
    static func engineConfig(project: URL, file: String? = nil) throws -> EngineConfig {
        let url = file.map { URL(fileURLWithPath: $0) } ?? project.appendingPathComponent("moonflow.yaml")
        switch EngineConfigLoader.load(url, displayName: file ?? "moonflow.yaml", required: file != nil) {
        case .success(let config):
            bootstrapLogging(config.logFormat)
            return config
        case .failure(let problems):
            printDiagnostics(problems)
            throw MoonflowExit.failure
        }
    }

    /// `--store memory`, `--store PATH`, or the configuration's store (a relative path is under
    /// the project). A store another process holds, or a corrupt file, exits 1 with the reason.
    static func openStore(_ option: String?, project: URL, config: EngineConfig, acceptWALLoss: Bool = false) throws -> any RunStore {
        var options = SQLiteStoreOptions(acceptWALLoss: acceptWALLoss)
        let configured: String
        switch config.store {
        case .memory: configured = "memory"
        case .sqlite(let path, let synchronous):
            configured = path
            options.synchronous = synchronous
        }
        let path = option ?? configured
        if path == "memory" { return InMemoryRunStore() }
        let absolute = URL(fileURLWithPath: path, relativeTo: path.hasPrefix("/") ? nil : project).standardizedFileURL.path
        do {
            return try SQLiteRunStore(path: absolute, options: options)
        } catch {
            printError("error: \(error)")
            throw MoonflowExit.failure
        }
    }

    /// Drives a run until it ends or waits on a human; durable timers (`sleep`) are waited for here.
    static func driveUntilSettled(_ engine: Engine, _ id: RunID) async throws -> ExecutionReport {
        _ = try await engine.drive(id)
        return try await waitForTimers(engine, id)
    }

    /// While the run waits only on a timer, sleeps until it and fires it.
    static func waitForTimers(_ engine: Engine, _ id: RunID) async throws -> ExecutionReport {
        var report = try await engine.report(id)
        while report.status == .waiting, !report.tasks.contains(where: { $0.status == .open }),
            let next = try await engine.nextTimer(of: id)
        {
            try await engine.clock.sleep(until: next)
            try await engine.fireDueTimers()
            report = try await engine.report(id)
        }
        return report
    }

    /// Validates with JSON Schema 2020-12 over the project's `schemas/` (the files `$ref`s reach).
    static func schemaValidator(project: URL) -> JSONSchemaValidator {
        // Read under the project's confinement rule, like every other project file.
        JSONSchemaValidator(schemaTexts: loader(project: project).schemaTexts())
    }
}
