import Crypto
package import Foundation
package import MoonflowModel
import MoonflowYAML

/// Reads `moonflow.yaml` (docs/workflow-format.md) with the same strictness as workflow files: unknown keys,
/// wrong kinds and bad values are all reported, with positions.
package enum EngineConfigLoader {
    /// The configuration in `file`, or every problem found in it. A missing file is not an error
    /// only when `required` is false (the default project file is optional; `--config` is not).
    ///
    /// The project's own file (`required` false) is read under the project's confinement rule
    /// (`ProjectFileReader`: a regular file, no symbolic link, the size limit on what is read). A
    /// file the operator names (`--config`, `required` true) may be reached through links (a
    /// mounted configuration often is one) but must still be a regular file within the limit.
    package static func load(
        _ file: URL, displayName: String? = nil, required: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Result<EngineConfig, ProjectLoadResult> {
        let name = displayName ?? file.lastPathComponent
        let standardized = URL(fileURLWithPath: ProjectFileReader.lexicallyNormalized(file.path))
        var target = standardized
        if required, let resolved = realpath(standardized.path, nil) {
            target = URL(fileURLWithPath: String(cString: resolved))
            free(resolved)
        }
        let reader = ProjectFileReader(root: target.deletingLastPathComponent())
        let data: [UInt8]
        switch reader.read(target, maxSize: YAMLLimits().maxFileSize) {
        case .success(let bytes): data = bytes
        case .failure(.missing) where !required: return .success(EngineConfig())
        case .failure(let failure):
            let message = failure == .missing ? "cannot read the configuration file" : "the configuration file \(failure.predicate)"
            let d = Diagnostic(failure.isSymbolicLink ? .pathEscapes : .badFile, message, at: SourceLocation(file: name, line: 1, column: 1))
            return .failure(ProjectLoadResult(workflows: [], diagnostics: [d], files: [name], sources: [:]))
        }
        let source = String(decoding: data, as: UTF8.self)
        let root: YAMLNode
        do {
            root = try YAMLParser.parse(data, file: name)
        } catch {
            return .failure(ProjectLoadResult(workflows: [], diagnostics: error.diagnostics, files: [name], sources: [name: source]))
        }
        let context = FileContext(file: name, source: source)
        let config = read(root, context: context, environment: environment)
        guard !context.hasErrors else {
            return .failure(ProjectLoadResult(workflows: [], diagnostics: context.sortedDiagnostics, files: [name], sources: [name: source]))
        }
        return .success(config)
    }

    static let keys = ["concurrency", "resources", "logging", "tracing", "monitoring", "store", "server", "auth", "secrets", "connections"]

    static func read(_ root: YAMLNode, context: FileContext, environment: [String: String]) -> EngineConfig {
        var config = EngineConfig()
        guard let map = MappingReader(root, context, what: "the configuration", allowed: keys) else { return config }
        if let n = map["concurrency"] { config.concurrency = context.concurrency(n) }
        if let n = map["resources"], let m = MappingReader(n, context, what: "'resources'", allowed: ["memory", "instructions", "timeout", "output_size", "host_memory", "cpu", "isolation"]) {
            notSupported(m, "cpu", "resources.cpu", context, instead: "a script's CPU is bounded by 'resources.instructions' and 'resources.timeout'")
            // Seed form `memory: {limit: 64Mi}` and plain `memory: 64MB` both work.
            if let mem = m["memory"] {
                if mem.mapping != nil, let mm = MappingReader(mem, context, what: "'resources.memory'", allowed: ["limit", "request"]) {
                    notSupported(mm, "request", "resources.memory.request", context, instead: "nothing is reserved; 'limit' caps each execution")
                    if let l = mm["limit"] { config.resources.memory = context.size(l, "limit") ?? config.resources.memory }
                } else {
                    config.resources.memory = context.size(mem, "memory") ?? config.resources.memory
                }
            }
            if let i = m["instructions"] { config.resources.instructions = context.int(i, "instructions", 1000...Int.max) ?? config.resources.instructions }
            if let t = m["timeout"] { config.resources.timeout = context.duration(t, "timeout") }
            if let o = m["output_size"] { config.resources.outputSize = context.size(o, "output_size") ?? config.resources.outputSize }
            if let h = m["host_memory"] { config.resources.hostMemory = context.size(h, "host_memory") ?? config.resources.hostMemory }
            if let i = m["isolation"], let isolation = context.choice(i, "isolation", ScriptIsolation.allCases.map(\.rawValue)) {
                config.resources.isolation = ScriptIsolation(rawValue: isolation) ?? .inProcess
            }
        }
        if let n = map["logging"], let m = MappingReader(n, context, what: "'logging'", allowed: ["level", "format", "components"]) {
            notSupported(m, "components", "logging.components", context, instead: "one 'level' applies to every component")
            if let l = m["level"], let v = context.choice(l, "level", EngineConfig.LogLevel.allCases.map(\.rawValue)) { config.logLevel = .init(rawValue: v)! }
            if let f = m["format"], let v = context.choice(f, "format", ["text", "json"]) { config.logFormat = .init(rawValue: v)! }
        }
        if let n = map["tracing"],
            let m = MappingReader(n, context, what: "'tracing'", allowed: ["enabled", "sampling_rate", "endpoint", "headers", "components"])
        {
            notSupported(m, "components", "tracing.components", context, instead: "'enabled' and 'sampling_rate' apply to every component")
            if let e = m["enabled"] { config.tracingEnabled = context.bool(e, "enabled") ?? false }
            if let r = m["sampling_rate"] { config.tracingSamplingRate = context.number(r, "sampling_rate", 0...1) ?? 1 }
            if let e = m["endpoint"], let url = ConnectionReader.baseURL(e, "tracing.endpoint", context: context) {
                config.tracingEndpoint = url.absoluteString
            }
            if let h = m["headers"] { config.tracingHeaders = ConnectionReader.headers(h, "tracing.headers", context: context) }
        }
        if let n = map["monitoring"], let m = MappingReader(n, context, what: "'monitoring'", allowed: ["metrics"]) {
            if let e = m["metrics"] { config.metricsEnabled = context.bool(e, "metrics") ?? true }
        }
        if let n = map["store"] { config.store = readStore(n, context: context, environment: environment, retention: &config.retention) ?? config.store }
        if let n = map["server"], let m = MappingReader(n, context, what: "'server'", allowed: ["host", "port", "run_backlog"]) {
            if let h = m["host"] { config.host = context.string(h, "host") ?? config.host }
            if let p = m["port"] { config.port = context.int(p, "port", 0...65535) ?? config.port }
            if let b = m["run_backlog"] { config.runBacklog = context.int(b, "run_backlog", 1...EngineConfig.maxRunBacklog) ?? config.runBacklog }
        }
        if let n = map["auth"], let m = MappingReader(n, context, what: "'auth'", allowed: ["tokens"]) {
            if let t = m["tokens"], let items = t.sequence {
                config.tokens = items.compactMap { readToken($0, context: context, environment: environment) }
            } else if let t = m["tokens"] {
                context.error(.typeMismatch, "'tokens' must be a list, not \(t.kindDescription)", at: t)
            }
        }
        if let n = map["secrets"], let m = MappingReader(n, context, what: "'secrets'", allowed: ["file", "env_prefix"]) {
            if let f = m["file"] { config.secretsFile = context.string(f, "file") }
            if let p = m["env_prefix"] { config.secretsEnvironmentPrefix = context.string(p, "env_prefix") }
        }
        if let n = map["connections"] { config.connections = ConnectionReader.read(n, context: context) }
        return config
    }

    private static func readStore(
        _ node: YAMLNode, context: FileContext, environment: [String: String], retention: inout Duration?
    ) -> EngineConfig.Store? {
        if node.scalar?.text == "memory" { return .memory }
        let postgresKeys = ["password_env", "pool_size", "tls"]
        guard
            let m = MappingReader(
                node, context, what: "'store'", allowed: ["sqlite", "memory", "synchronous", "postgres", "retention"] + postgresKeys)
        else { return nil }
        if let r = m["retention"] {
            if m.has("memory") {
                context.error(.invalidValue, "'store.retention' applies to a SQLite or PostgreSQL store only", at: r)
            } else if r.scalar?.text == "forever" {
                retention = nil
            } else if let duration = context.duration(r, "retention") {
                if duration < .seconds(60) {
                    context.error(.outOfRange, "'retention' must be at least 1m", at: r, hint: "a duration such as 30d, or 'forever'")
                } else {
                    retention = duration
                }
            }
        }
        if let p = m["postgres"] { return readPostgres(p, m, context: context, environment: environment) }
        for key in postgresKeys {
            if let n = m[key] { context.error(.invalidValue, "'store.\(key)' applies to a PostgreSQL store only", at: n, hint: "add 'postgres: URL'") }
        }
        if m.has("memory") { return .memory }
        var path = ".moonflow/state.db"
        var synchronous = EngineConfig.Synchronous.full
        if let s = m["sqlite"] {
            if s.scalar != nil {
                path = context.string(s, "sqlite") ?? path
            } else if let sm = MappingReader(s, context, what: "'store.sqlite'", allowed: ["path", "synchronous"]) {
                path = sm["path"].flatMap { context.string($0, "path") } ?? path
                if let y = sm["synchronous"], let v = context.choice(y, "synchronous", ["full", "normal"]) { synchronous = .init(rawValue: v)! }
            }
        }
        if let y = m["synchronous"], let v = context.choice(y, "synchronous", ["full", "normal"]) { synchronous = .init(rawValue: v)! }
        return .sqlite(path: path, synchronous: synchronous)
    }

    /// `store: {postgres: URL, password_env, pool_size, tls}` (docs/scale-out.md).
    private static func readPostgres(
        _ url: YAMLNode, _ m: MappingReader, context: FileContext, environment: [String: String]
    ) -> EngineConfig.Store? {
        guard let text = context.string(url, "postgres") else { return nil }
        var password: String?
        if let e = m["password_env"], let variable = context.string(e, "password_env") {
            password = environment[variable]
            if password == nil { context.error(.invalidValue, "the environment variable \(variable) is not set", at: e) }
        }
        let poolSize = m["pool_size"].flatMap { context.int($0, "pool_size", PostgresLocation.poolSizes) } ?? PostgresLocation.defaultPoolSize
        let tls = m["tls"].flatMap { context.choice($0, "tls", PostgresLocation.TLS.allCases.map(\.rawValue)) }.flatMap(PostgresLocation.TLS.init)
        do {
            return .postgres(try PostgresLocation(url: text, password: password, tls: tls ?? .prefer, poolSize: poolSize))
        } catch {
            context.error(.invalidValue, error.description, at: url, hint: "postgres://user[:password]@host[:port]/database")
            return nil
        }
    }

    private static func readToken(_ node: YAMLNode, context: FileContext, environment: [String: String]) -> EngineConfig.Token? {
        guard let m = MappingReader(node, context, what: "a token", allowed: ["token", "token_env", "token_sha256", "role", "user", "groups"]) else { return nil }
        let given = ["token", "token_env", "token_sha256"].filter(m.has)
        guard given.count == 1 else {
            context.error(
                given.isEmpty ? .missingKey : .conflictingKeys, "a token needs exactly one of 'token', 'token_env' or 'token_sha256'", at: node,
                hint: "prefer token_env (an environment variable) or token_sha256 over a token in clear")
            return nil
        }
        var digest: String?
        if let t = m["token"], let text = context.string(t, "token") {
            if text.count < 16 { context.error(.invalidValue, "a token must be at least 16 characters long", at: t) } else { digest = sha256(text) }
        } else if let e = m["token_env"], let variable = context.string(e, "token_env") {
            if let value = environment[variable], value.count >= 16 {
                digest = sha256(value)
            } else {
                context.error(.invalidValue, "the environment variable \(variable) is not set or shorter than 16 characters", at: e)
            }
        } else if let h = m["token_sha256"], let hex = context.string(h, "token_sha256") {
            if hex.count == 64, hex.allSatisfy(\.isHexDigit) { digest = hex.lowercased() } else { context.error(.invalidValue, "'token_sha256' must be 64 hexadecimal digits", at: h) }
        }
        guard let r = m["role"] else {
            context.error(.missingKey, "a token needs a 'role' (admin, operator or user)", at: node)
            return nil
        }
        guard let roleName = context.choice(r, "role", EngineConfig.Role.allCases.map(\.rawValue)) else { return nil }
        let role = EngineConfig.Role(rawValue: roleName)!
        let user = m["user"].flatMap { context.string($0, "user") }
        if role == .user, user == nil {
            context.error(.missingKey, "a token with role 'user' needs a 'user' id (tasks are assigned to users)", at: node)
        }
        guard let digest else { return nil }
        return EngineConfig.Token(sha256: digest, role: role, user: user, groups: m["groups"].map { context.stringList($0, "groups").map(\.0) } ?? [])
    }

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A seed key the engine has no meaning for: refused where it is written, naming what to use.
    static func notSupported(_ map: MappingReader, _ key: String, _ path: String, _ context: FileContext, instead: String) {
        guard map.has(key) else { return }
        context.error(.invalidValue, "not supported: '\(path)'", at: map.keyLocation(key), hint: instead)
    }
}
