import ArgumentParser
import Foundation
import Logging
import MoonflowRuntime
import MoonflowServer

/// `moonflow serve`: the engine as a service (docs/cli.md, docs/api.md): HTTP API, triggers, timers, hot
/// reload, metrics and the web console, in one service group that shuts down gracefully on SIGTERM
/// and SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the engine as a service: HTTP API, triggers, timers, hot reload, metrics, web console.",
        discussion: """
            Tokens come from auth.tokens in moonflow.yaml (see docs/api.md). The project's workflows/, scripts/ and \
            schemas/ are watched and reloaded when they change (docs/reload.md); SIGHUP and POST /v1/reload reload \
            on demand. On SIGTERM or SIGINT the server stops accepting requests, lets running activities finish \
            within --grace-period, and exits 0; what did not finish runs again at the next start.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var storage: StoreOptions

    @Option(name: .long, help: "The address to bind (default: server.host of moonflow.yaml, else 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "The port (default: server.port of moonflow.yaml, else 8080; 0 picks a free one).")
    var port: Int?

    @Option(name: .long, help: "The engine configuration (default: moonflow.yaml in the project).")
    var config: String?

    @Flag(name: .customLong("insecure-no-auth"), help: "No tokens: anyone who can connect is an admin. Loopback addresses only.")
    var insecureNoAuth = false

    @Option(name: .customLong("grace-period"), help: "Seconds running work may take to finish on shutdown.")
    var gracePeriod: Int = 30

    @Option(
        name: .customLong("max-connections"),
        help: "Open connections at most; beyond it the oldest idle one is closed (default: 4096, or fewer if the open-file limit is lower).")
    var maxConnections: Int?

    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may stay without a request in progress, or sending a request head.")
    var idleTimeout: Int = 30

    @Option(name: .customLong("allowed-host"), help: "Another name clients may reach the server by (the Host header), e.g. behind a proxy; repeatable.")
    var allowedHosts: [String] = []

    @Option(name: .customLong("allowed-origin"), help: "Another origin whose pages may call the API (https://console.example); repeatable.")
    var allowedOrigins: [String] = []

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be from 0 to 65535") }
        if gracePeriod < 0 { throw ValidationError("--grace-period cannot be negative") }
        if let maxConnections, maxConnections < ServerLimits.minimumConnections {
            throw ValidationError("--max-connections must be at least \(ServerLimits.minimumConnections)")
        }
        if idleTimeout < 1 { throw ValidationError("--idle-timeout must be at least 1 second") }
    }

    func run() async throws {
        let project = global.projectURL
        let engineConfig = try Composition.engineConfig(project: project, file: config)
        let logger = Logger.escapedStandardError(label: "moonflow", level: Logger.Level(rawValue: engineConfig.logLevel.rawValue) ?? .info)
        let host = host ?? engineConfig.host
        do {
            try MoonflowServer.checkAccess(host: host, insecureNoAuth: insecureNoAuth, tokens: engineConfig.tokens)
            _ = try ServerLimits(maxConnections: maxConnections).connectionCap(descriptorLimit: MoonflowServer.raiseDescriptorLimit())
        } catch {
            printError("error: \(error)")
            throw MoonflowExit.usage
        }
        let runtime = try await Composition.make(
            RuntimeOptions(
                project: project, config: engineConfig, store: storage.selection, acceptWALLoss: storage.acceptWALLoss, logger: logger,
                serving: ServingOptions()))
        // The CLI of this machine goes through this server while it owns the store (docs/cli.md):
        // its address and an admin token, in a file only this user can read, gone when it stops.
        let localToken = LocalServerFile.newToken()
        let options = ServerOptions(
            host: host, port: port ?? engineConfig.port, insecureNoAuth: insecureNoAuth,
            limits: ServerLimits(maxConnections: maxConnections, idleTimeout: .seconds(idleTimeout)), allowedHosts: allowedHosts,
            allowedOrigins: allowedOrigins, localAdminToken: localToken)
        defer { LocalServerFile.remove(project: project) }
        do {
            try await MoonflowServer.serve(options, runtime: runtime, gracePeriod: .seconds(gracePeriod)) { port in
                logger.notice("moonflow serves http://\(host):\(port)/ (project \(project.path))")
                let reachable = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host.contains(":") ? "[\(host)]" : host
                do {
                    try LocalServerFile(url: "http://\(reachable):\(port)", token: localToken, pid: getpid()).write(project: project)
                } catch {
                    logger.warning("cannot write \(LocalServerFile.location(project: project).path): \(error); the CLI cannot reach this server by itself")
                }
            }
        } catch where Self.isAddressInUse(error) {
            printError(
                "error: port \(options.port) is already in use on \(host) (another moonflow serve, or another program): "
                    + "stop it, or choose another port with --port or server.port in moonflow.yaml")
            throw MoonflowExit.failure
        }
    }

    /// The listener's bind failed with EADDRINUSE (the server library reports it as an error whose
    /// text carries the system's message; the CLI does not depend on that library's error types).
    static func isAddressInUse(_ error: any Error) -> Bool {
        String(describing: error).contains(String(cString: strerror(EADDRINUSE)))
    }
}
