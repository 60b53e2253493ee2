package import Foundation
package import Logging
import MoonflowHTTP
package import MoonflowEngine
package import MoonflowLoader
package import MoonflowLua
package import MoonflowModel
import MoonflowPostgres
import MoonflowStore
import ServiceLifecycle

/// Where a runtime keeps its runs.
package enum StoreSelection: Sendable {
    /// What `moonflow.yaml`'s `store` says (by default the SQLite file `.moonflow/state.db`).
    case configured
    /// In memory: nothing outlives the process.
    case memory
    /// A SQLite file (a relative path is under the project), at `moonflow.yaml`'s synchronous level.
    case sqlite(path: String)
    /// A PostgreSQL database (`--store postgres://…`), with `moonflow.yaml`'s `password_env`,
    /// `pool_size` and `tls` when its store is PostgreSQL too.
    case postgres(url: String)
    /// A store opened already.
    case existing(any RunStore)
}

/// What `Runtime.make` builds from. The edge (the CLI, a test) reads the configuration first with
/// `Runtime.configuration`, sets up logging from it (`RuntimeLogging`), and hands in the logger.
package struct RuntimeOptions: Sendable {
    package var project: URL
    /// `moonflow.yaml`, as `Runtime.configuration` read it.
    package var config: EngineConfig
    package var store: StoreSelection
    /// Opens a SQLite store whose WAL is damaged, keeping the transactions before the damage and
    /// dropping those after it (`--accept-wal-loss`, docs/durability.md).
    package var acceptWALLoss: Bool
    package var logger: Logger
    package var clock: any EngineClock
    /// `MOONFLOW_FAILPOINTS` (docs/testing.md): the CLI's commands read them, `serve` does not.
    package var failpoints: Failpoints
    /// Set to serve the project (`moonflow serve`); `nil` for a one-shot command.
    package var serving: ServingOptions?
    /// Where `secrets.env_prefix` finds the secrets (the process's environment).
    package var environment: [String: String]
    /// How notification deliveries are retried.
    package var notificationDelivery: NotificationOutbox.Policy = .init()
    /// Requests are answered by mocks (`moonflow test`): no connection is made and no secret is
    /// read; workflows are still checked against the connections' names.
    package var offline = false
    /// The command exports the spans of the runs it drives when moonflow.yaml's `tracing` is
    /// enabled (`moonflow run`, through `Runtime.exportingTraces`); a served project always does.
    package var exportsTraces = false

    package init(
        project: URL, config: EngineConfig = EngineConfig(), store: StoreSelection = .configured, acceptWALLoss: Bool = false,
        logger: Logger, clock: any EngineClock = SystemClock(), failpoints: Failpoints = .none, serving: ServingOptions? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.project = project
        self.config = config
        self.store = store
        self.acceptWALLoss = acceptWALLoss
        self.logger = logger
        self.clock = clock
        self.failpoints = failpoints
        self.serving = serving
        self.environment = environment
    }
}

/// Why a runtime was not built. Nothing was opened.
package enum RuntimeError: Error, Sendable, CustomStringConvertible {
    /// The store file cannot be opened: another process owns it, or it is damaged or not a store
    /// (`StoreOpenError` says which).
    case storeUnavailable(path: String, reason: any Error)
    /// The secrets file cannot be read or is readable by others, or a connection names a secret
    /// nobody defined (the message names it).
    case secrets(SecretsError)
    /// moonflow.yaml's `tracing` cannot be set up (a header's secret is not defined).
    case tracing(TracingSetupError)

    package var description: String {
        switch self {
        case .storeUnavailable(_, let reason): "\(reason)"
        case .secrets(let error): "\(error)"
        case .tracing(let error): "\(error)"
        }
    }
}

/// A PostgreSQL store was asked of `Runtime.make`, which cannot wait for a connection.
private struct NeedsOpen: Error, CustomStringConvertible {
    var description: String { "a PostgreSQL store is opened with Runtime.open" }
}

/// The composition root of every command that runs workflows (`moonflow run`, `test`, `runs …`,
/// `tasks …`, `bench`, `serve`) and of the tests that need an engine like theirs: the project
/// loader with the Lua syntax checker, the store the configuration selects, the Lua runner, the
/// schema validator, the catalog child runs start from, and the engine over them.
///
/// A one-shot command reads a workflow's definition from the files when it needs one. A served
/// project (`RuntimeOptions.serving`) loads the whole project once, reloads it as files change,
/// and adds the dispatcher that drives runs in the background and the services that start runs
/// from timers, schedules and emitted events (`ServedProject`).
package final class Runtime: Sendable {
    package let project: URL
    package let config: EngineConfig
    package let loader: ProjectLoader
    package let store: any RunStore
    package let runner: IsolatingRunner
    package let validator: any SchemaValidating
    /// Where child runs (`type: workflow`) find the definition they start.
    package let catalog: any WorkflowCatalog
    package let engine: Engine
    package let logger: Logger
    /// Delivers the notifications runs queue (a service of the served project; one-shot commands
    /// deliver those of the runs they drove).
    package let outbox: NotificationOutbox
    /// The served project; `nil` unless `RuntimeOptions.serving` was set.
    package let served: ServedProject?
    /// The spans' tracer and exporter; `nil` unless moonflow.yaml's `tracing` is enabled and the
    /// command exports traces (`RuntimeOptions.exportsTraces`, or serving).
    package let tracing: RunTracingSetup?

    private init(
        project: URL, config: EngineConfig, loader: ProjectLoader, store: any RunStore, runner: IsolatingRunner,
        validator: any SchemaValidating, catalog: any WorkflowCatalog, engine: Engine, logger: Logger, outbox: NotificationOutbox,
        served: ServedProject?, tracing: RunTracingSetup?
    ) {
        self.project = project
        self.config = config
        self.loader = loader
        self.store = store
        self.runner = runner
        self.validator = validator
        self.catalog = catalog
        self.engine = engine
        self.logger = logger
        self.outbox = outbox
        self.served = served
        self.tracing = tracing
    }

    /// Opens the store and builds everything over it: a PostgreSQL store is connected to and
    /// migrated first (docs/scale-out.md).
    package static func open(_ options: RuntimeOptions) async throws(RuntimeError) -> Runtime {
        guard let location = try postgresLocation(options) else { return try make(options) }
        var options = options
        do {
            options.store = .existing(try await PostgresRunStore.open(PostgresStoreOptions(location), logger: options.logger))
        } catch {
            throw .storeUnavailable(path: location.displayURL, reason: error)
        }
        return try make(options)
    }

    /// `open` for a store that opens at once: memory, a SQLite file, one opened already. A
    /// PostgreSQL store needs `open`.
    package static func make(_ options: RuntimeOptions) throws(RuntimeError) -> Runtime {
        let secrets = try secrets(options)
        let http = try connector(options, secrets: secrets)
        var tracing: RunTracingSetup?
        if options.exportsTraces || options.serving != nil {
            do { tracing = try RunTracingSetup.make(options.config, secrets: secrets, logger: options.logger) } catch { throw .tracing(error) }
        }
        let store = try openStore(options)
        let loader = loader(project: options.project, connections: Set(options.config.connections.keys))
        let runner = IsolatingRunner()
        let config = options.config
        let logger = options.logger
        // Served: the last valid load of the whole project, validated with the schema files its
        // definitions pin. One-shot: each definition read from the files when needed, validated
        // with every schema file of the project (read under the confinement rule, like the rest).
        let live = options.serving.map { _ in LiveCatalog(loader: loader, clock: options.clock) }
        if let live { ProjectWatcher.log(live.reload(), logger: logger, reason: "start") }
        let validator: any SchemaValidating = live?.validator ?? JSONSchemaValidator(schemaTexts: loader.schemaTexts())
        let catalog: any WorkflowCatalog = live ?? ProjectCatalog(loader: loader)
        let engine = Engine(
            store: store, runner: runner, http: http, clock: options.clock, random: SystemRandomSource(), logger: logger, validator: validator,
            catalog: catalog, resolver: PinnedDefinitionLoader(loader: loader), failpoints: options.failpoints,
            limits: config.concurrency, resources: config.resources, tracing: tracing?.tracing)
        let outbox = NotificationOutbox(engine: engine, http: http, logger: logger, policy: options.notificationDelivery)
        var served: ServedProject?
        if let live, let serving = options.serving {
            served = ServedProject(
                project: options.project, engine: engine, store: store, catalog: live, outbox: outbox, logger: logger,
                metrics: config.metricsEnabled ? RuntimeMetrics.prometheus : nil, runBacklog: config.runBacklog,
                retention: config.retention, tracing: tracing?.service, options: serving)
        }
        return Runtime(
            project: options.project, config: config, loader: loader, store: store, runner: runner, validator: validator,
            catalog: catalog, engine: engine, logger: logger, outbox: outbox, served: served, tracing: tracing)
    }

    /// The loader every command uses: the project's files, with Lua syntax checked at load, and
    /// the connections workflows name checked against `connections` when given.
    package static func loader(project: URL, connections: Set<String>? = nil) -> ProjectLoader {
        var loader = ProjectLoader(projectDirectory: project, checker: LuaSyntaxChecker())
        loader.connections = connections
        return loader
    }

    /// The secrets of moonflow.yaml (none `offline`).
    private static func secrets(_ options: RuntimeOptions) throws(RuntimeError) -> [String: String] {
        guard !options.offline else { return [:] }
        switch SecretsLoader.load(options.config, project: options.project, environment: options.environment) {
        case .success(let values): return values
        case .failure(let error): throw .secrets(error)
        }
    }

    /// The connector over moonflow.yaml's connections with their secrets (none `offline`).
    private static func connector(_ options: RuntimeOptions, secrets: [String: String]) throws(RuntimeError) -> HTTPConnector {
        guard !options.offline else {
            do { return try HTTPConnector(connections: [:], secrets: [:]) } catch { throw .secrets(SecretsError(description: "\(error)")) }
        }
        do {
            return try HTTPConnector(connections: options.config.connections, secrets: secrets)
        } catch {
            throw .secrets(SecretsError(description: "\(error)"))
        }
    }

    /// `moonflow.yaml` of the project (defaults without it), or the configuration `file` given
    /// (which must exist); the diagnostics when it is invalid.
    package static func configuration(project: URL, file: String? = nil) -> Result<EngineConfig, ProjectLoadResult> {
        let url = file.map { URL(fileURLWithPath: $0) } ?? project.appendingPathComponent("moonflow.yaml")
        return EngineConfigLoader.load(url, displayName: file ?? "moonflow.yaml", required: file != nil)
    }

    /// The PostgreSQL database `options` select, if they select one.
    private static func postgresLocation(_ options: RuntimeOptions) throws(RuntimeError) -> PostgresLocation? {
        switch (options.store, options.config.store) {
        case (.configured, .postgres(let location)): return location
        case (.postgres(let url), let configured):
            var base: PostgresLocation?
            if case .postgres(let location) = configured { base = location }
            do {
                return try PostgresLocation(
                    url: url, password: base?.password, tls: base?.tls ?? .prefer, poolSize: base?.poolSize ?? PostgresLocation.defaultPoolSize)
            } catch {
                throw .storeUnavailable(path: "--store", reason: error)
            }
        default: return nil
        }
    }

    /// The store `options` select; a relative path is under the project.
    private static func openStore(_ options: RuntimeOptions) throws(RuntimeError) -> any RunStore {
        var sqlite = SQLiteStoreOptions(acceptWALLoss: options.acceptWALLoss)
        let path: String
        switch (options.store, options.config.store) {
        case (.existing(let store), _): return store
        case (.memory, _), (.configured, .memory): return InMemoryRunStore()
        case (.postgres(let url), _):
            throw .storeUnavailable(path: url, reason: NeedsOpen())
        case (.configured, .postgres(let location)):
            throw .storeUnavailable(path: location.displayURL, reason: NeedsOpen())
        case (.configured, .sqlite(let configured, let synchronous)):
            path = configured
            sqlite.synchronous = synchronous
        case (.sqlite(let chosen), .sqlite(_, let synchronous)):
            path = chosen
            sqlite.synchronous = synchronous
        case (.sqlite(let chosen), .memory), (.sqlite(let chosen), .postgres):
            path = chosen
        }
        // Appended rather than resolved against the project's URL, which would drop its last
        // component when the URL lacks a trailing slash.
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : options.project.appendingPathComponent(path)
        let absolute = url.standardizedFileURL.path
        do {
            return try SQLiteRunStore(path: absolute, options: sqlite)
        } catch {
            throw .storeUnavailable(path: absolute, reason: error)
        }
    }

    /// Runs `body` while the spans of the runs it drives are exported (moonflow.yaml's `tracing`),
    /// then exports what is left, waiting at most the export timeout when the collector is down.
    package func exportingTraces<T>(_ body: () async throws -> T) async throws -> T {
        guard let tracing else { return try await body() }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [tracing.service], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            return try result.get()
        }
    }

    /// Drives a run until it ends or waits on a human; durable timers (`sleep`) are waited for here.
    package func driveUntilSettled(_ id: RunID) async throws -> ExecutionReport {
        _ = try await engine.drive(id)
        return try await waitForTimers(id)
    }

    /// While the run waits only on a timer, sleeps until it and fires it.
    package func waitForTimers(_ id: RunID) async throws -> ExecutionReport {
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
}
