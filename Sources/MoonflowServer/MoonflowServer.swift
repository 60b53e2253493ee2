import Foundation
import Hummingbird
import Logging
import Metrics
import MoonflowEngine
import MoonflowLoader
import MoonflowLua
import MoonflowModel
import Prometheus
import ServiceLifecycle

/// How `moonflow serve` is set up.
public struct ServerOptions: Sendable {
    public var project: URL
    public var host: String
    public var port: Int
    /// `auth.tokens` of `moonflow.yaml` are the API's bearer tokens.
    public var config: EngineConfig
    /// No token needed: refused unless `host` is a loopback address.
    public var insecureNoAuth: Bool
    public var store: any RunStore
    public var clock: any EngineClock
    public var watchInterval: Duration
    public var debounce: Duration
    /// How often an idle event stream sends a comment, so proxies and clients keep it open.
    public var keepAlive: Duration
    public var logger: Logger

    public init(
        project: URL, host: String = "127.0.0.1", port: Int = 8080, config: EngineConfig = EngineConfig(),
        insecureNoAuth: Bool = false, store: any RunStore = InMemoryRunStore(), clock: any EngineClock = SystemClock(),
        watchInterval: Duration = .milliseconds(50), debounce: Duration = .milliseconds(100), keepAlive: Duration = .seconds(15),
        logger: Logger
    ) {
        self.project = project
        self.host = host
        self.port = port
        self.config = config
        self.insecureNoAuth = insecureNoAuth
        self.store = store
        self.clock = clock
        self.watchInterval = watchInterval
        self.debounce = debounce
        self.keepAlive = keepAlive
        self.logger = logger
    }
}

public enum ServerSetupError: Error, Sendable, CustomStringConvertible {
    case insecureNotOnLoopback(host: String)
    case noTokens

    public var description: String {
        switch self {
        case .insecureNotOnLoopback(let host):
            "--insecure-no-auth is refused on '\(host)': it is only allowed on a loopback address (127.0.0.1, ::1, localhost)"
        case .noTokens:
            "no API tokens are configured: add auth.tokens to moonflow.yaml (see docs/api.md), or use --insecure-no-auth on loopback"
        }
    }
}

/// The composition root of `moonflow serve`: a plain function the CLI and the tests call.
public enum MoonflowServer {
    /// The process's Prometheus registry: swift-metrics is bootstrapped once per process, so every
    /// server of the process (tests start several) shares it.
    public static let metrics: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Refuses a server nobody could use safely: `--insecure-no-auth` off loopback, or no tokens.
    /// Callers check it before opening anything (a refused `serve` never takes the store's lock).
    public static func checkAccess(host: String, insecureNoAuth: Bool, tokens: [EngineConfig.Token]) throws(ServerSetupError) {
        if insecureNoAuth {
            guard isLoopback(host) else { throw .insecureNotOnLoopback(host: host) }
        } else if tokens.isEmpty {
            throw .noTokens
        }
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The HTTP application with every service of the server: the engine loop (which recovers
    /// unfinished runs), durable timers, schedules, emitted-event triggers, the file watcher and
    /// SIGHUP reloads. Run it in a `ServiceGroup`; `onListening` gets the bound port.
    public static func makeApplication(
        _ options: ServerOptions, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        try checkAccess(host: options.host, insecureNoAuth: options.insecureNoAuth, tokens: options.config.tokens)
        if options.insecureNoAuth {
            options.logger.warning("authentication is off (--insecure-no-auth): anyone on this machine can use the API")
        }
        let core = makeCore(options)
        let logger = options.logger
        let router = makeRouter(
            core: core, authenticator: Authenticator(tokens: options.config.tokens, disabled: options.insecureNoAuth),
            keepAlive: options.keepAlive)
        let services: [any Service] = [
            core.dispatcher,
            TimerService(engine: core.engine, logger: logger),
            ScheduleService(core: core),
            EmittedEventService(core: core),
            ProjectWatcher(
                project: options.project, catalog: core.catalog, interval: options.watchInterval, debounce: options.debounce, logger: logger),
            ReloadSignalService(core: core),
        ]
        return Application(
            router: router, configuration: .init(address: .hostname(options.host, port: options.port), serverName: "moonflow"),
            services: services,
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? options.port) },
            logger: logger)
    }

    /// Runs the server until SIGTERM or SIGINT, then shuts down gracefully: the listener stops,
    /// requests and drives in flight get `gracePeriod` to finish, then what is left is cancelled
    /// (and runs again at the next start, from the store).
    public static func serve(
        _ options: ServerOptions, gracePeriod: Duration, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        let application = try makeApplication(options, onListening: onListening)
        var configuration = ServiceGroupConfiguration(
            services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: options.logger)
        configuration.maximumGracefulShutdownDuration = gracePeriod
        try await ServiceGroup(configuration: configuration).run()
    }

    /// The catalog (loaded once here), the engine over the store, and what the routes share.
    static func makeCore(_ options: ServerOptions) -> ServerCore {
        _ = metrics
        let logger = options.logger
        let loader = ProjectLoader(projectDirectory: options.project, checker: LuaSyntaxChecker())
        let catalog = LiveCatalog(loader: loader, clock: options.clock)
        let first = catalog.reload()
        ProjectWatcher.log(first, logger: logger, reason: "start")
        let runner = LuaRunner()
        let engine = Engine(
            store: options.store, runner: runner, clock: options.clock, logger: logger, validator: catalog.validator, catalog: catalog,
            resolver: PinnedDefinitionLoader(loader: loader), limits: options.config.concurrency,
            resources: options.config.resources)
        let dispatcher = RunDispatcher(engine: engine, logger: logger)
        engine.onAdmission { dispatcher.submit($0) }
        catalog.onReload { workflows in
            for workflow in workflows { engine.updateConcurrency(workflow: workflow.id, limits: workflow.concurrency) }
        }
        return ServerCore(engine: engine, store: options.store, catalog: catalog, dispatcher: dispatcher, runner: runner, logger: logger)
    }

    /// Every route of the API; `schemas/openapi.yaml` documents exactly these (a test checks it).
    static func makeRouter(core: ServerCore, authenticator: Authenticator, keepAlive: Duration = .seconds(15)) -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(authenticator: authenticator))
        WorkflowRoutes.add(to: router, core: core)
        RunRoutes.add(to: router, core: core)
        TaskRoutes.add(to: router, core: core)
        EventRoutes.add(to: router, core: core, keepAlive: keepAlive)
        OperationRoutes.add(to: router, core: core, metrics: metrics)
        return router
    }
}
