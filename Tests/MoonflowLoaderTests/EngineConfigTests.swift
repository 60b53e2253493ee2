import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

/// `moonflow.yaml` (docs/workflow-format.md): same strictness as workflow files.
@Suite struct EngineConfigTests {
    func load(_ yaml: String, environment: [String: String] = [:]) throws -> Result<EngineConfig, ProjectLoadResult> {
        let project = try TemporaryProject(files: ["moonflow.yaml": yaml])
        return EngineConfigLoader.load(project.url.appendingPathComponent("moonflow.yaml"), environment: environment)
    }

    @Test func aMissingOptionalFileMeansTheDefaults() throws {
        let project = try TemporaryProject(files: [:])
        let result = EngineConfigLoader.load(project.url.appendingPathComponent("moonflow.yaml"))
        #expect(try result.get() == EngineConfig())
        #expect(EngineConfig().store == .sqlite(path: ".moonflow/state.db", synchronous: .full))
        guard case .failure = EngineConfigLoader.load(project.url.appendingPathComponent("moonflow.yaml"), required: true) else {
            Issue.record("a missing --config file must be an error")
            return
        }
    }

    @Test func everySectionInTheSeedVocabulary() throws {
        let config = try load(
            """
            concurrency: {max_workflows: 50, max_activities: 8, queuing: {strategy: priority, timeout: 30s}}
            resources: {memory: {limit: 64Mi}, instructions: 1000000}
            logging: {level: debug, format: json}
            tracing: {enabled: true, sampling_rate: 0.25}
            monitoring: {metrics: true}
            store: {sqlite: {path: data/runs.db, synchronous: normal}}
            server: {host: 0.0.0.0, port: 9090, run_backlog: 500}
            auth:
              tokens:
                - {token: an-admin-token-long-enough, role: admin}
                - {token_env: ALICE_TOKEN, role: user, user: alice, groups: [tier2]}
            secrets: {file: secrets.env, env_prefix: MOONFLOW_SECRET_}
            """, environment: ["ALICE_TOKEN": "alice-secret-token-123"]
        ).get()
        #expect(config.concurrency == ConcurrencyLimits(maxWorkflows: 50, maxActivities: 8, strategy: .priority, queueTimeout: .seconds(30)))
        #expect(config.resources.memory == 64 << 20)
        #expect(config.resources.instructions == 1_000_000)
        #expect(config.logLevel == .debug && config.logFormat == .json)
        #expect(config.tracingEnabled && config.tracingSamplingRate == 0.25)
        #expect(config.store == .sqlite(path: "data/runs.db", synchronous: .normal))
        #expect(config.host == "0.0.0.0" && config.port == 9090 && config.runBacklog == 500)
        #expect(config.tokens.map(\.role) == [.admin, .user])
        #expect(config.tokens[1].user == "alice" && config.tokens[1].groups == ["tier2"])
        // Tokens are kept only as digests.
        #expect(config.tokens[0].sha256 == "9b7bae3617d046959052dc917eefde9442a380bd7f071178a759060666412401")
        #expect(config.tokens[1].sha256 == "b7276271633193587a613d0b1a9ca3e5ec4ef88773ee86081b6c7813990854bd")
        #expect(config.secretsFile == "secrets.env" && config.secretsEnvironmentPrefix == "MOONFLOW_SECRET_")
    }

    @Test func tracingReadsItsEndpointAndHeaders() throws {
        let config = try load(
            """
            tracing:
              enabled: true
              sampling_rate: 0.5
              endpoint: https://collector.example.com:4318/v1/traces
              headers: {Authorization: "Bearer ${ secrets.OTEL_TOKEN }", X-Team: moonflow}
            """
        ).get()
        #expect(config.tracingEnabled && config.tracingSamplingRate == 0.5)
        #expect(config.tracingEndpoint == "https://collector.example.com:4318/v1/traces")
        #expect(Array(config.tracingHeaders.keys) == ["Authorization", "X-Team"])
        #expect(config.tracingHeaders["Authorization"]?.secretNames == ["OTEL_TOKEN"])
        #expect(config.tracingHeaders["X-Team"]?.resolved([:]) == .success("moonflow"))
        #expect(EngineConfig().tracingEndpoint == "http://localhost:4318/v1/traces" && EngineConfig().tracingHeaders.isEmpty)
    }

    @Test func tracingMistakesAreRefusedWithPositions() throws {
        guard
            case .failure(let problems) = try load(
                """
                tracing:
                  enabled: true
                  endpoint: ftp://collector.example.com/v1/traces
                  headers: {"bad header": x, X-Key: "${ input.key }"}
                  sample_rate: 0.5
                  sampling_rate: 2
                """)
        else {
            Issue.record("the configuration should be refused")
            return
        }
        #expect(
            problems.diagnostics.map(\.description) == [
                "moonflow.yaml:3:13: error[InvalidValue]: 'tracing.endpoint' must be an absolute http or https URL, not 'ftp://collector.example.com/v1/traces'",
                "moonflow.yaml:4:13: error[InvalidValue]: 'bad header' is not a valid header name",
                "moonflow.yaml:4:38: error[BadTemplate]: 'tracing.headers.X-Key' may only use ${ secrets.NAME }, not ${ input.key }",
                "moonflow.yaml:5:3: error[UnknownKey]: unknown key 'sample_rate' in 'tracing' — did you mean 'sampling_rate'?",
                "moonflow.yaml:6:18: error[OutOfRange]: 'sampling_rate' must be between 0 and 1, not 2",
            ])
    }

    @Test func mistakesAreReportedTogetherWithPositions() throws {
        guard
            case .failure(let problems) = try load(
                """
                logging: {level: verbose}
                server: {port: 70000, hots: x, run_backlog: 0}
                store: {sqlite: {synchronous: off}}
                auth:
                  tokens:
                    - {token: short, role: admin}
                    - {token_env: NOT_SET, role: user}
                    - {token_sha256: abc, token: also-a-long-enough-token, role: root}
                """)
        else {
            Issue.record("the configuration should be refused")
            return
        }
        #expect(
            problems.diagnostics.map(\.description) == [
                "moonflow.yaml:1:18: error[InvalidValue]: 'level' must be one of trace, debug, info, notice, warning, error, critical, not 'verbose'",
                "moonflow.yaml:2:16: error[OutOfRange]: 'port' must be between 0 and 65535, not 70000",
                "moonflow.yaml:2:23: error[UnknownKey]: unknown key 'hots' in 'server' — did you mean 'host'?",
                "moonflow.yaml:2:45: error[OutOfRange]: 'run_backlog' must be between 1 and 1000000, not 0",
                "moonflow.yaml:3:31: error[InvalidValue]: 'synchronous' must be one of full, normal, not 'off'",
                "moonflow.yaml:6:15: error[InvalidValue]: a token must be at least 16 characters long",
                "moonflow.yaml:7:7: error[MissingKey]: a token with role 'user' needs a 'user' id (tasks are assigned to users)",
                "moonflow.yaml:7:19: error[InvalidValue]: the environment variable NOT_SET is not set or shorter than 16 characters",
                "moonflow.yaml:8:7: error[ConflictingKeys]: a token needs exactly one of 'token', 'token_env' or 'token_sha256'",
            ])
    }

    /// `store: {postgres: URL, password_env, pool_size, tls}` (docs/scale-out.md).
    @Test func aPostgresStoreIsReadWithItsPasswordFromTheEnvironment() throws {
        let config = try load(
            "store: {postgres: \"postgres://moonflow@db.internal:6432/flows\", password_env: PGPASS, pool_size: 20, tls: require}\n",
            environment: ["PGPASS": "s3cret"]
        ).get()
        let location = try PostgresLocation(url: "postgres://moonflow@db.internal:6432/flows", password: "s3cret", tls: .require, poolSize: 20)
        #expect(config.store == .postgres(location))
        #expect(try load("store: {postgres: \"postgres://a@h/d\"}\n").get().store == .postgres(try PostgresLocation(url: "postgres://a@h/d")))
    }

    @Test func postgresStoreMistakesAreReportedWithPositions() throws {
        guard
            case .failure(let problems) = try load(
                """
                store: {postgres: "mysql://a@h/d", password_env: UNSET, pool_size: 1, tls: maybe}
                """)
        else {
            Issue.record("the configuration should be refused")
            return
        }
        #expect(
            problems.diagnostics.map(\.description) == [
                "moonflow.yaml:1:19: error[InvalidValue]: bad PostgreSQL store URL 'mysql://…': it is not a postgres://user[:password]@host[:port]/database URL",
                "moonflow.yaml:1:50: error[InvalidValue]: the environment variable UNSET is not set",
                "moonflow.yaml:1:68: error[OutOfRange]: 'pool_size' must be between 2 and 1000, not 1",
                "moonflow.yaml:1:76: error[InvalidValue]: 'tls' must be one of disable, prefer, require, not 'maybe'",
            ])
        guard case .failure(let sqlite) = try load("store: {sqlite: a.db, pool_size: 4}\n") else {
            Issue.record("pool_size without postgres should be refused")
            return
        }
        #expect(sqlite.diagnostics.map(\.description) == [
            "moonflow.yaml:1:34: error[InvalidValue]: 'store.pool_size' applies to a PostgreSQL store only"
        ])
    }

    /// `store.retention` (docs/durability.md): a duration of at least a minute, or `forever`; 30 days by default.
    @Test func retentionIsReadWithItsDefaultAndMistakesHavePositions() throws {
        #expect(EngineConfig().retention == .seconds(30 * 86_400))
        #expect(try load("store: {sqlite: a.db, retention: 7d}\n").get().retention == .seconds(7 * 86_400))
        #expect(try load("store: {retention: forever}\n").get().retention == nil)
        guard case .failure(let problems) = try load("store: {retention: 30s}\n") else {
            Issue.record("a retention under a minute should be refused")
            return
        }
        #expect(problems.diagnostics.map(\.description) == ["moonflow.yaml:1:20: error[OutOfRange]: 'retention' must be at least 1m"])
        guard case .failure(let kinds) = try load("store: {retention: soon}\n"), case .failure(let memory) = try load("store: {memory: true, retention: 1d}\n")
        else {
            Issue.record("a retention that is no duration, or on the memory store, should be refused")
            return
        }
        #expect(kinds.diagnostics.map(\.location.line) == [1])
        #expect(kinds.diagnostics.map(\.location.column) == [20])
        #expect(memory.diagnostics.map(\.description) == [
            "moonflow.yaml:1:34: error[InvalidValue]: 'store.retention' applies to a SQLite or PostgreSQL store only"
        ])
    }
}
