/// The engine-wide configuration, `moonflow.yaml` at the project root (docs/workflow-format.md). Every field
/// has a default, so a project without the file runs with these.
public struct EngineConfig: Sendable, Hashable {
    public enum LogLevel: String, Sendable, Hashable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }
    public enum LogFormat: String, Sendable, Hashable { case text, json }
    public enum Synchronous: String, Sendable, Hashable {
        /// Every commit reaches the disk before it is acknowledged.
        case full
        /// May lose the last commits on power loss; never corrupts.
        case normal
    }

    public enum Store: Sendable, Hashable {
        /// A project-relative or absolute path.
        case sqlite(path: String, synchronous: Synchronous)
        case memory
    }

    public enum Role: String, Sendable, Hashable, CaseIterable { case admin, `operator`, user }

    /// A bearer token. Only its SHA-256 is kept in memory after loading.
    public struct Token: Sendable, Hashable {
        public var sha256: String
        public var role: Role
        public var user: String?
        public var groups: [String]
        public init(sha256: String, role: Role, user: String? = nil, groups: [String] = []) {
            self.sha256 = sha256
            self.role = role
            self.user = user
            self.groups = groups
        }
    }

    /// `server.run_backlog` unless moonflow.yaml says otherwise.
    public static let defaultRunBacklog = 4096
    /// The largest `server.run_backlog` accepted.
    public static let maxRunBacklog = 1_000_000

    public var concurrency: ConcurrencyLimits?
    /// Default sandbox limits for every code action.
    public var resources: ScriptLimits
    public var logLevel: LogLevel
    public var logFormat: LogFormat
    public var tracingEnabled: Bool
    /// 0…1.
    public var tracingSamplingRate: Double
    public var metricsEnabled: Bool
    public var store: Store
    public var host: String
    public var port: Int
    /// `server.run_backlog`: runs the API (or an event it takes) has started that the engine has
    /// not yet driven to their end or first wait; beyond it `moonflow serve` refuses starts with a
    /// 503 and `Retry-After` (docs/api.md, "Back-pressure").
    public var runBacklog: Int
    public var tokens: [Token]
    /// A file of `NAME=value` lines, project-relative, for `${ secrets.NAME }`.
    public var secretsFile: String?
    /// Environment variables with this prefix are secrets (`MOONFLOW_SECRET_API_KEY` → `API_KEY`).
    public var secretsEnvironmentPrefix: String?

    public init(
        concurrency: ConcurrencyLimits? = nil, resources: ScriptLimits = .defaults, logLevel: LogLevel = .info,
        logFormat: LogFormat = .text, tracingEnabled: Bool = false, tracingSamplingRate: Double = 1,
        metricsEnabled: Bool = true, store: Store = .sqlite(path: ".moonflow/state.db", synchronous: .full),
        host: String = "127.0.0.1", port: Int = 8080, runBacklog: Int = EngineConfig.defaultRunBacklog, tokens: [Token] = [],
        secretsFile: String? = nil,
        secretsEnvironmentPrefix: String? = nil
    ) {
        self.concurrency = concurrency
        self.resources = resources
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.tracingEnabled = tracingEnabled
        self.tracingSamplingRate = tracingSamplingRate
        self.metricsEnabled = metricsEnabled
        self.store = store
        self.host = host
        self.port = port
        self.runBacklog = runBacklog
        self.tokens = tokens
        self.secretsFile = secretsFile
        self.secretsEnvironmentPrefix = secretsEnvironmentPrefix
    }
}
