import ArgumentParser
import Foundation
import Logging
import MoonflowEngine
import MoonflowLoader
import MoonflowModel
import MoonflowRuntime

/// How a command gets what it works on, with docs/cli.md's exit codes: the configuration (which
/// sets up logging), a workflow, and the runtime (`Runtime.make`, the one composition root).
enum Composition {
    /// `moonflow.yaml` of the project (defaults without it), or the `--config` file given (which
    /// must exist); an invalid file exits 1.
    /// Its `logging.format` becomes the format of every line on standard error from then on.
    static func engineConfig(project: URL, file: String? = nil) throws -> EngineConfig {
        switch Runtime.configuration(project: project, file: file) {
        case .success(let config):
            RuntimeLogging.bootstrap(config.logFormat)
            return config
        case .failure(let problems):
            printDiagnostics(problems)
            throw MoonflowExit.failure
        }
    }

    /// The runtime of a one-shot command over the store the options and `moonflow.yaml` select,
    /// with the system clock, logs on standard error (standard output is for the report) and
    /// `MOONFLOW_FAILPOINTS` (docs/testing.md). A store another process holds, or a corrupt file,
    /// exits 1 with the reason.
    /// `exportsTraces`: the command exports its runs' spans (`Runtime.exportingTraces`).
    static func runtime(
        _ global: GlobalOptions, _ storage: StoreOptions, config: EngineConfig? = nil, exportsTraces: Bool = false
    ) async throws -> Runtime {
        let project = global.projectURL
        var options = RuntimeOptions(
            project: project, config: try config ?? engineConfig(project: project), store: storage.selection,
            acceptWALLoss: storage.acceptWALLoss, logger: Logger.escapedStandardError(label: "moonflow", level: .warning),
            failpoints: Failpoints(ProcessInfo.processInfo.environment["MOONFLOW_FAILPOINTS"] ?? ""))
        options.exportsTraces = exportsTraces
        return try await make(options)
    }

    /// `Runtime.open`, its failure told on standard error with exit 1.
    static func make(_ options: RuntimeOptions) async throws -> Runtime {
        do {
            return try await Runtime.open(options)
        } catch {
            printError("error: \(error)")
            throw MoonflowExit.failure
        }
    }

    /// A workflow by id or path, or the exit docs/cli.md asks for: 2 when unknown, 1 when invalid.
    /// `connections`: moonflow.yaml's, for the names the workflow may use.
    static func loadWorkflow(_ idOrPath: String, project: URL, connections: Set<String>? = nil) throws -> LoadedWorkflow {
        do {
            return try Runtime.loader(project: project, connections: connections).loadWorkflow(idOrPath)
        } catch {
            switch error {
            case .notFound:
                printError("error: \(error)")
                throw MoonflowExit.usage
            case .invalid(let result):
                printDiagnostics(result)
                throw MoonflowExit.failure
            }
        }
    }
}

/// `--store PATH|memory|postgres://…`, shared by every command that reads or drives runs.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "Where runs are kept: a SQLite file, memory, or a postgres://user@host:port/database URL (default: moonflow.yaml's store, else .moonflow/state.db).")
    var store: String?

    @Flag(
        name: .customLong("accept-wal-loss"),
        help: "Open a store whose WAL is damaged, keeping the transactions before the damage and dropping those after it (back the files up first; docs/durability.md).")
    var acceptWALLoss = false

    @Option(name: .long, help: "Act through the API of the moonflow serve at this URL instead of on the store (with --token).")
    var server: String?

    @Option(name: .long, help: "The bearer token for --server (default: $MOONFLOW_TOKEN).")
    var token: String?

    /// `--store memory`, `--store PATH`, or the configuration's store.
    var selection: StoreSelection {
        switch store {
        case nil: .configured
        case "memory": .memory
        case let url? where PostgresLocation.isURL(url): .postgres(url: url)
        case let path?: .sqlite(path: path)
        }
    }
}

extension Composition {
    /// The running server a command goes through (docs/cli.md): the one `--server` names, else the
    /// `moonflow serve` that owns this project's store (its `.moonflow/server.json`), unless the
    /// command names a store of its own. `nil`: act on the store in this process.
    static func remote(_ global: GlobalOptions, _ storage: StoreOptions) -> RemoteServer? {
        if let server = storage.server {
            return RemoteServer(url: server, token: storage.token ?? ProcessInfo.processInfo.environment["MOONFLOW_TOKEN"] ?? "")
        }
        guard storage.store == nil, let file = LocalServerFile.read(project: global.projectURL) else { return nil }
        return RemoteServer(url: file.url, token: file.token)
    }
}
