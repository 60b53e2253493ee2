import ArgumentParser
import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime

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
            workflow's schema, 3 the run waits on a human, is queued behind max_workflows, or paused \
            at a breakpoint (--break-before; `moonflow runs continue` goes on), and was left in the store.
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

    @Option(
        name: .customLong("break-before"),
        help: "Pause the run before this activity (repeatable): status paused, exit 3; `moonflow runs continue ID [--step]` goes on.")
    var breakBefore: [String] = []

    @OptionGroup var storage: StoreOptions

    func validate() throws {
        if input != nil, inputFile != nil { throw ValidationError("--input and --input-file cannot be used together") }
        if let runID, let problem = RunIDRule.problem(with: runID) {
            throw ValidationError("--run-id '\(SafeText.display(runID))': \(problem); the rule is \(RunIDRule.pattern)")
        }
    }

    func run() async throws {
        // First, so that everything on standard error follows its logging.format.
        let config = try Composition.engineConfig(project: global.projectURL)
        let loaded = try Composition.loadWorkflow(workflow, project: global.projectURL, connections: Set(config.connections.keys))
        let runInput = try readInput()
        let runtime = try await Composition.runtime(global, storage, config: config, exportsTraces: true)
        let engine = runtime.engine
        // The run's spans are exported while it runs, and the rest before the report (moonflow.yaml `tracing`).
        let (id, report) = try await runtime.exportingTraces { () async throws -> (RunID, ExecutionReport) in
            let id: RunID
            do {
                id = try await engine.start(loaded.pinned, input: runInput, runID: runID, priority: priority, breakBefore: breakBefore)
            } catch let failure as ActivityFailure {
                printError("error: \(failure)")
                throw MoonflowExit.usage
            } catch let refusal as EngineError {
                switch refusal {
                case .runIDConflict, .unknownActivity:
                    printError("error: \(refusal)")
                    throw MoonflowExit.usage
                default: throw refusal
                }
            }
            return (id, try await runtime.driveUntilSettled(id))
        }
        switch global.format {
        case .json: print(report.toValue().jsonString(pretty: true))
        case .text: print(report.renderText())
        }
        // What the run queued for its channels, delivered once it is reported (a later
        // `moonflow runs resume` or `serve` delivers what this process could not).
        await runtime.outbox.deliverPending(of: [id])
        switch report.status {
        case .completed: return
        case .waiting:
            printError(
                runtime.store is InMemoryRunStore
                    ? "the run waits on a manual task; with --store memory it is not kept after this process"
                    : "the run waits on a manual task; it is kept in the store: `moonflow tasks list`, then `moonflow tasks complete`")
            throw MoonflowExit.waiting
        case .paused:
            printError(
                "the run is paused before '\(report.pausedBefore ?? "?")'; it is kept in the store: "
                    + "`moonflow runs continue \(id)` goes on (`--step`: one activity at a time)")
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
