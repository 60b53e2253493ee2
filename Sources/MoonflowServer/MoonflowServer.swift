import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore
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
    /// Connections, timeouts and event-stream buffers (`docs/api.md`, "Limits").
    public var limits: ServerLimits
    /// Extra names the `Host` header may carry (`name` or `name:port`), e.g. behind a proxy.
    public var allowedHosts: [String]
    /// Extra origins (`https://console.example.com`) whose pages may call the API.
    public var allowedOrigins: [String]
    public var logger: Logger

    public init(
        project: URL, host: String = "127.0.0.1", port: Int = 8080, config: EngineConfig = EngineConfig(),
        insecureNoAuth: Bool = false, store: any RunStore = InMemoryRunStore(), clock: any EngineClock = SystemClock(),
        watchInterval: Duration = .milliseconds(50), debounce: Duration = .milliseconds(100), keepAlive: Duration = .seconds(15),
        limits: ServerLimits = ServerLimits(), allowedHosts: [String] = [], allowedOrigins: [String] = [], logger: Logger
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
        self.limits = limits
        self.allowedHosts = allowedHosts
        self.allowedOrigins = allowedOrigins
        self.logger = logger
    }
}

public enum ServerSetupError: Error, Sendable, CustomStringConvertible {
    case insecureNotOnLoopback(host: String)
    case noTokens
    /// The descriptor limit cannot hold the connection cap plus the descriptors kept in reserve.
    case descriptorLimit(limit: Int, maxConnections: Int, reserved: Int)

    public var description: String {
        switch self {
        case .descriptorLimit(let limit, let maxConnections, let reserved):
            "the open-file limit (\(limit), raised to its hard limit) cannot hold \(maxConnections) connections plus \(reserved) descriptors in reserve: raise it (ulimit -n) or lower --max-connections (at least \(ServerLimits.minimumConnections))"
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
    /// server of the process (tests start several) shares it. A server with `monitoring.metrics:
    /// false` never touches it: in `moonflow serve` the engine's metrics then record nothing.
    public static let metrics: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(DescribedMetricsFactory(registry: registry))
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

    /// Raises the open-file limit to its hard limit and returns it (what `makeApplication` does).
    public static func raiseDescriptorLimit() -> Int { DescriptorLimit.raiseToHardLimit() }

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
        let descriptors = DescriptorLimit.raiseToHardLimit()
        let connectionCap = try options.limits.connectionCap(descriptorLimit: descriptors)
        return makeApplication(options, core: makeCore(options), connectionCap: connectionCap, descriptors: descriptors, onListening: onListening)
    }

    /// `makeApplication` over a core built already (tests reach the engine through it).
    static func makeApplication(
        _ options: ServerOptions, core: ServerCore, connectionCap: Int, descriptors: Int,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        if options.insecureNoAuth {
            options.logger.warning("authentication is off (--insecure-no-auth): anyone on this machine can use the API")
        }
        let logger = options.logger
        let hostPolicy = HostPolicy(
            bindHost: options.host, port: options.port, allowedHosts: options.allowedHosts, allowedOrigins: options.allowedOrigins)
        let router = makeRouter(
            core: core, authenticator: Authenticator(tokens: options.config.tokens, disabled: options.insecureNoAuth),
            hostPolicy: hostPolicy, limits: options.limits, keepAlive: options.keepAlive,
            metrics: options.config.metricsEnabled ? metrics : nil)
        let registry = ConnectionRegistry(capacity: connectionCap, logger: logger)
        let limits = options.limits
        logger.debug(
            "connection limits", metadata: ["connections.max": "\(connectionCap)", "descriptors.limit": "\(descriptors)"])
        let services: [any Service] = [
            core.dispatcher,
            TimerService(engine: core.engine, logger: logger),
            ScheduleService(core: core),
            EmittedEventService(core: core),
            ProjectWatcher(
                project: options.project, catalog: core.catalog, interval: options.watchInterval, debounce: options.debounce, logger: logger),
            ReloadSignalService(core: core),
        ]
        // Connections beyond the cap close the oldest idle one (`ConnectionRegistry`); accepting
        // pauses outright only when those closes lag, so descriptors never pass cap + headroom.
        let server = HTTPServerBuilder.http1(
            configuration: .init(
                additionalChannelHandlers: [
                    ConnectionGuardHandler(registry: registry, requestTimeout: limits.requestTimeout), ExpectContinueHandler(),
                ],
                idleTimeout: TimeAmount(limits.idleTimeout)))
        return Application(
            router: router, server: server,
            configuration: .init(
                address: .hostname(options.host, port: options.port), serverName: "moonflow",
                availableConnectionsDelegate: MaximumAvailableConnections(connectionCap + ServerLimits.closingHeadroom, logger: logger)),
            services: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? options.port
                hostPolicy.listening(on: port)
                await onListening(port)
            },
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
        if options.config.metricsEnabled { _ = metrics }
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
        return ServerCore(engine: engine, store: options.store, catalog: catalog, dispatcher: dispatcher, logger: logger)
    }

    /// Every route of the API; `schemas/openapi.yaml` documents exactly these (a test checks it).
    static func makeRouter(
        core: ServerCore, authenticator: Authenticator,
        hostPolicy: HostPolicy = HostPolicy(bindHost: "127.0.0.1", port: 0, allowedHosts: [], allowedOrigins: []),
        limits: ServerLimits = ServerLimits(), keepAlive: Duration = .seconds(15), metrics: PrometheusCollectorRegistry? = metrics
    ) -> Router<APIContext> {
        let router = Router(context: APIContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: HeadMiddleware())
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: RequestGuardMiddleware(policy: hostPolicy))
        router.add(middleware: BodyLimitMiddleware())
        router.add(middleware: AuthMiddleware(authenticator: authenticator))
        WorkflowRoutes.add(to: router, core: core)
        RunRoutes.add(to: router, core: core)
        TaskRoutes.add(to: router, core: core)
        EventRoutes.add(to: router, core: core, keepAlive: keepAlive, limits: limits)
        DeadLetterRoutes.add(to: router, core: core)
        OperationRoutes.add(to: router, core: core, metrics: metrics)
        // After every route, so only requests that no route matched pass through it.
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes.map { ($0.path, $0.method) }))
        return router
    }
}
