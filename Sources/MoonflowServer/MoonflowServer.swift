import Foundation
package import Hummingbird
import HummingbirdCore
package import MoonflowModel
package import MoonflowRuntime
import NIOCore
import ServiceLifecycle

/// How `moonflow serve` listens and whom it lets in; what it serves is a `Runtime` built with
/// `RuntimeOptions.serving`.
package struct ServerOptions: Sendable {
    package var host: String
    package var port: Int
    /// No token needed: refused unless `host` is a loopback address. Otherwise the runtime's
    /// `auth.tokens` (moonflow.yaml) are the API's bearer tokens.
    package var insecureNoAuth: Bool
    /// How often an idle event stream sends a comment, so proxies and clients keep it open.
    package var keepAlive: Duration
    /// Connections, timeouts and event-stream buffers (`docs/api.md`, "Limits").
    package var limits: ServerLimits
    /// Extra names the `Host` header may carry (`name` or `name:port`), e.g. behind a proxy.
    package var allowedHosts: [String]
    /// Extra origins (`https://console.example.com`) whose pages may call the API.
    package var allowedOrigins: [String]
    /// A token accepted as an admin's besides the configured ones: the local credential `moonflow
    /// serve` writes for the CLI (`LocalServerFile`).
    package var localAdminToken: String?

    package init(
        host: String = "127.0.0.1", port: Int = 8080, insecureNoAuth: Bool = false, keepAlive: Duration = .seconds(15),
        limits: ServerLimits = ServerLimits(), allowedHosts: [String] = [], allowedOrigins: [String] = [], localAdminToken: String? = nil
    ) {
        self.localAdminToken = localAdminToken
        self.host = host
        self.port = port
        self.insecureNoAuth = insecureNoAuth
        self.keepAlive = keepAlive
        self.limits = limits
        self.allowedHosts = allowedHosts
        self.allowedOrigins = allowedOrigins
    }
}

package enum ServerSetupError: Error, Sendable, CustomStringConvertible {
    case insecureNotOnLoopback(host: String)
    case noTokens
    /// The descriptor limit cannot hold the connection cap plus the descriptors kept in reserve.
    case descriptorLimit(limit: Int, maxConnections: Int, reserved: Int)
    /// The runtime was built for a one-shot command (`RuntimeOptions.serving` unset).
    case notServing

    package var description: String {
        switch self {
        case .descriptorLimit(let limit, let maxConnections, let reserved):
            "the open-file limit (\(limit), raised to its hard limit) cannot hold \(maxConnections) connections plus \(reserved) descriptors in reserve: raise it (ulimit -n) or lower --max-connections (at least \(ServerLimits.minimumConnections))"
        case .insecureNotOnLoopback(let host):
            "--insecure-no-auth is refused on '\(host)': it is only allowed on a loopback address (127.0.0.1, ::1, localhost)"
        case .notServing:
            "the runtime was built for a one-shot command, not for serving: build it with RuntimeOptions.serving"
        case .noTokens:
            "no API tokens are configured: add auth.tokens to moonflow.yaml (see docs/api.md), or use --insecure-no-auth on loopback"
        }
    }
}

/// The HTTP server of `moonflow serve`: it serves a runtime built with `RuntimeOptions.serving`
/// (its engine, catalog, store, dispatcher and metrics registry). Plain functions the CLI and the
/// tests call.
package enum MoonflowServer {
    /// Refuses a server nobody could use safely: `--insecure-no-auth` off loopback, or no tokens.
    /// Callers check it before opening anything (a refused `serve` never takes the store's lock).
    package static func checkAccess(host: String, insecureNoAuth: Bool, tokens: [EngineConfig.Token]) throws(ServerSetupError) {
        if insecureNoAuth {
            guard isLoopback(host) else { throw .insecureNotOnLoopback(host: host) }
        } else if tokens.isEmpty {
            throw .noTokens
        }
    }

    /// Raises the open-file limit to its hard limit and returns it (what `makeApplication` does).
    package static func raiseDescriptorLimit() -> Int { DescriptorLimit.raiseToHardLimit() }

    package static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The HTTP application serving `runtime`, with every service of the served project: the
    /// engine loop (which recovers unfinished runs), durable timers, schedules, emitted-event
    /// triggers, the file watcher and SIGHUP reloads. Run it in a `ServiceGroup`; `onListening`
    /// gets the bound port.
    package static func makeApplication(
        _ options: ServerOptions, runtime: Runtime, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        guard let served = runtime.served else { throw ServerSetupError.notServing }
        let tokens = runtime.config.tokens
        try checkAccess(host: options.host, insecureNoAuth: options.insecureNoAuth, tokens: tokens)
        let descriptors = DescriptorLimit.raiseToHardLimit()
        let connectionCap = try options.limits.connectionCap(descriptorLimit: descriptors)
        let logger = served.logger
        if options.insecureNoAuth {
            logger.warning("authentication is off (--insecure-no-auth): anyone on this machine can use the API")
        }
        let hostPolicy = HostPolicy(
            bindHost: options.host, port: options.port, allowedHosts: options.allowedHosts, allowedOrigins: options.allowedOrigins)
        let router = makeRouter(
            core: ServerCore(served: served), authenticator: Authenticator(tokens: tokens, disabled: options.insecureNoAuth, localAdminToken: options.localAdminToken),
            hostPolicy: hostPolicy, limits: options.limits, keepAlive: options.keepAlive)
        let registry = ConnectionRegistry(capacity: connectionCap, logger: logger)
        let limits = options.limits
        logger.debug(
            "connection limits", metadata: ["connections.max": "\(connectionCap)", "descriptors.limit": "\(descriptors)"])
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
            services: served.makeServices(),
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
    package static func serve(
        _ options: ServerOptions, runtime: Runtime, gracePeriod: Duration, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        let application = try makeApplication(options, runtime: runtime, onListening: onListening)
        var configuration = ServiceGroupConfiguration(
            services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: runtime.logger)
        configuration.maximumGracefulShutdownDuration = gracePeriod
        try await ServiceGroup(configuration: configuration).run()
    }

    /// Every route of the API; `schemas/openapi.yaml` documents exactly these (a test checks it).
    static func makeRouter(
        core: ServerCore, authenticator: Authenticator,
        hostPolicy: HostPolicy = HostPolicy(bindHost: "127.0.0.1", port: 0, allowedHosts: [], allowedOrigins: []),
        limits: ServerLimits = ServerLimits(), keepAlive: Duration = .seconds(15)
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
        OperateRoutes.add(to: router, core: core)
        TaskRoutes.add(to: router, core: core)
        EventRoutes.add(to: router, core: core, keepAlive: keepAlive, limits: limits)
        DeadLetterRoutes.add(to: router, core: core)
        OperationRoutes.add(to: router, core: core, metrics: core.served.metrics)
        ConsoleRoutes.add(to: router, assets: ConsoleAssets.bundled, logger: core.logger)
        // After every route, so only requests that no route matched pass through it.
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes.map { ($0.path, $0.method) }))
        return router
    }
}
