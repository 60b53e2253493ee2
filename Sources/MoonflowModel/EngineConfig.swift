package import OrderedCollections

/// The engine-wide configuration, `moonflow.yaml` at the project root (docs/workflow-format.md). Every field
/// has a default, so a project without the file runs with these.
package struct EngineConfig: Sendable, Hashable {
    package enum LogLevel: String, Sendable, Hashable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }
    package enum LogFormat: String, Sendable, Hashable { case text, json }
    package enum Synchronous: String, Sendable, Hashable {
        /// Every commit reaches the disk before it is acknowledged.
        case full
        /// May lose the last commits on power loss; never corrupts.
        case normal
    }

    package enum Store: Sendable, Hashable {
        /// A project-relative or absolute path.
        case sqlite(path: String, synchronous: Synchronous)
        case memory
        /// A PostgreSQL database several engine processes share (docs/scale-out.md).
        case postgres(PostgresLocation)
    }

    package enum Role: String, Sendable, Hashable, CaseIterable { case admin, `operator`, user }

    /// A bearer token. Only its SHA-256 is kept in memory after loading.
    package struct Token: Sendable, Hashable {
        package var sha256: String
        package var role: Role
        package var user: String?
        package var groups: [String]
        package init(sha256: String, role: Role, user: String? = nil, groups: [String] = []) {
            self.sha256 = sha256
            self.role = role
            self.user = user
            self.groups = groups
        }
    }

    /// `server.run_backlog` unless moonflow.yaml says otherwise.
    package static let defaultRunBacklog = 4096
    /// `store.retention` unless moonflow.yaml says otherwise: 30 days.
    package static let defaultRetention: Duration = .seconds(30 * 86_400)
    /// The largest `server.run_backlog` accepted.
    package static let maxRunBacklog = 1_000_000
    /// An OpenTelemetry collector's OTLP/HTTP traces endpoint on this machine.
    package static let defaultTracingEndpoint = "http://localhost:4318/v1/traces"

    package var concurrency: ConcurrencyLimits?
    /// Default sandbox limits for every code action.
    package var resources: ScriptLimits
    package var logLevel: LogLevel
    package var logFormat: LogFormat
    package var tracingEnabled: Bool
    /// 0…1: the share of runs traced, decided from each run's trace id (docs/operations.md).
    package var tracingSamplingRate: Double
    /// `tracing.endpoint`: where spans are sent, OTLP/HTTP protobuf.
    package var tracingEndpoint: String = EngineConfig.defaultTracingEndpoint
    /// `tracing.headers`: sent with every export (`${ secrets.NAME }` allowed).
    package var tracingHeaders: OrderedDictionary<String, SecretText> = [:]
    package var metricsEnabled: Bool
    package var store: Store
    /// `store.retention`: runs that ended this long ago are deleted (docs/durability.md); `nil`
    /// (`retention: forever`) keeps every run.
    package var retention: Duration?
    package var host: String
    package var port: Int
    /// `server.run_backlog`: runs the API (or an event it takes) has started that the engine has
    /// not yet driven to their end or first wait; beyond it `moonflow serve` refuses starts with a
    /// 503 and `Retry-After` (docs/api.md, "Back-pressure").
    package var runBacklog: Int
    package var tokens: [Token]
    /// A YAML file of `NAME: value` pairs, project-relative, for `${ secrets.NAME }` in connections;
    /// refused when group- or world-readable.
    package var secretsFile: String?
    /// Environment variables with this prefix are secrets (`MOONFLOW_SECRET_API_KEY` → `API_KEY`).
    package var secretsEnvironmentPrefix: String?
    /// The services activities and notifications reach, by name (docs/integrations.md).
    package var connections: OrderedDictionary<String, Connection>

    package init(
        concurrency: ConcurrencyLimits? = nil, resources: ScriptLimits = .defaults, logLevel: LogLevel = .info,
        logFormat: LogFormat = .text, tracingEnabled: Bool = false, tracingSamplingRate: Double = 1,
        metricsEnabled: Bool = true, store: Store = .sqlite(path: ".moonflow/state.db", synchronous: .full),
        host: String = "127.0.0.1", port: Int = 8080, runBacklog: Int = EngineConfig.defaultRunBacklog, tokens: [Token] = [],
        secretsFile: String? = nil,
        secretsEnvironmentPrefix: String? = nil, connections: OrderedDictionary<String, Connection> = [:]
    ) {
        self.concurrency = concurrency
        self.resources = resources
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.tracingEnabled = tracingEnabled
        self.tracingSamplingRate = tracingSamplingRate
        self.metricsEnabled = metricsEnabled
        self.store = store
        self.retention = EngineConfig.defaultRetention
        self.host = host
        self.port = port
        self.runBacklog = runBacklog
        self.tokens = tokens
        self.secretsFile = secretsFile
        self.secretsEnvironmentPrefix = secretsEnvironmentPrefix
        self.connections = connections
    }
}
