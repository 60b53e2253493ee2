import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

/// `moonflow.yaml`'s `connections` and `secrets` (docs/integrations.md).
@Suite struct ConnectionConfigTests {
    func load(_ yaml: String) throws -> Result<EngineConfig, ProjectLoadResult> {
        let project = try TemporaryProject(files: ["moonflow.yaml": yaml])
        return EngineConfigLoader.load(project.url.appendingPathComponent("moonflow.yaml"), environment: [:])
    }

    func problems(_ yaml: String) throws -> [String] {
        guard case .failure(let result) = try load(yaml) else {
            Issue.record("the configuration should be refused")
            return []
        }
        return result.diagnostics.map(\.description)
    }

    @Test func everyKeyOfAConnectionIsRead() throws {
        let config = try load(
            """
            secrets: {env_prefix: MOONFLOW_SECRET_}
            connections:
              crm:
                url: https://crm.example.com/api
                auth: {bearer: "${ secrets.CRM_TOKEN }"}
                headers: {X-Client: moonflow, X-Tenant: "t-${ secrets.TENANT }"}
                timeout: 10s
                connect_timeout: 2s
                max_response_size: 2MB
                allowed_hosts: [crm.example.com, CDN.example.com]
                allow_private_network: true
                retry_after_max: 90s
              basic: {url: "http://b.example", auth: {basic: {user: u, password: "${ secrets.P }"}}}
              keyed: {url: "http://k.example", auth: {header: {name: X-Api-Key, value: "${ secrets.K }"}}}
              oauth:
                url: https://o.example
                auth: {oauth2: {token_url: "https://auth.example/token", client_id: app, client_secret: "${ secrets.S }", scope: read}}
              ops_webhook:
                url: https://hooks.example.com/T000/B000
            """
        ).get()
        let crm = try #require(config.connections["crm"])
        #expect(crm.url == "https://crm.example.com/api")
        #expect(crm.auth == .bearer(SecretText([.secret("CRM_TOKEN")])))
        #expect(crm.headers["X-Tenant"] == SecretText([.literal("t-"), .secret("TENANT")]))
        #expect(crm.timeout == .seconds(10) && crm.connectTimeout == .seconds(2) && crm.retryAfterMax == .seconds(90))
        #expect(crm.maxResponseSize == 2 << 20)
        #expect(crm.allowedHosts == ["crm.example.com", "cdn.example.com"])
        #expect(crm.allowPrivateNetwork)
        #expect(crm.secretNames == ["CRM_TOKEN", "TENANT"])
        #expect(config.connections["basic"]?.auth == .basic(user: SecretText(literal: "u"), password: SecretText([.secret("P")])))
        #expect(config.connections["keyed"]?.auth == .header(name: "X-Api-Key", value: SecretText([.secret("K")])))
        #expect(
            config.connections["oauth"]?.auth
                == .oauth2(tokenURL: "https://auth.example/token", clientID: SecretText(literal: "app"), clientSecret: SecretText([.secret("S")]), scope: "read"))
        let hook = try #require(config.connections["ops_webhook"])
        #expect(hook.timeout == .seconds(30) && hook.connectTimeout == .seconds(3) && hook.maxResponseSize == 1 << 20)
        #expect(hook.allowedHosts.isEmpty && !hook.allowPrivateNetwork && hook.retryAfterMax == .seconds(60))
    }

    @Test func badValuesAndUnknownKeysAreErrorsWithPositions() throws {
        let found = try problems(
            """
            connections:
              crm:
                url: ftp://crm.example.com
                timeout: 301s
                retries: 3
              b: {url: "https://user:pw@b.example"}
              c: {url: "https://c.example", auth: {bearer: x, basic: {user: u, password: p}}}
              d: {url: "https://d.example", auth: {oauth2: {client_id: a}}, max_response_size: 0, allow_private_network: yes}
              e: {url: "https://e.example", auth: {bearer: "${ input.token }"}, headers: {"bad header": x}}
              f: {timeout: 5s}
              log: {url: "https://l.example"}
              g: {url: "https://g.example", allowed_hosts: ["https://g.example/x"], connect_timeout: 1h}
            """)
        #expect(
            found == [
                "moonflow.yaml:3:10: error[InvalidValue]: 'url' must be an absolute http or https URL, not 'ftp://crm.example.com'",
                "moonflow.yaml:5:5: error[UnknownKey]: unknown key 'retries' in connection 'crm'",
                "moonflow.yaml:6:12: error[InvalidValue]: 'url' cannot hold credentials",
                "moonflow.yaml:7:39: error[ConflictingKeys]: 'auth' needs exactly one of bearer, basic, header, oauth2",
                "moonflow.yaml:8:48: error[MissingKey]: 'auth.oauth2' needs 'token_url' and 'client_secret'",
                "moonflow.yaml:8:84: error[OutOfRange]: 'max_response_size' must be larger than zero",
                "moonflow.yaml:8:110: error[TypeMismatch]: 'allow_private_network' must be true or false, not the string 'yes'",
                "moonflow.yaml:9:49: error[BadTemplate]: 'auth.bearer' may only use ${ secrets.NAME }, not ${ input.token }",
                "moonflow.yaml:9:79: error[InvalidValue]: 'bad header' is not a valid header name",
                "moonflow.yaml:10:6: error[MissingKey]: connection 'f' needs a 'url'",
                "moonflow.yaml:11:3: error[InvalidValue]: 'log' is reserved (the log notification channel)",
                "moonflow.yaml:12:49: error[InvalidValue]: 'allowed_hosts': 'https://g.example/x' is not a host name",
                "moonflow.yaml:12:90: error[OutOfRange]: 'connect_timeout' must be at most 300s, not 1h",
            ])
        #expect(try problems("connections: {a: {url: 'https://a.example', timeout: 301s}}") == [
            "moonflow.yaml:1:54: error[OutOfRange]: 'timeout' must be at most 300s, not 301s"
        ])
    }

    @Test func secretsInAWorkflowAreALoadErrorSayingWhereTheyMayBeUsed() throws {
        let project = try TemporaryProject(files: [
            "workflows/w.yaml": """
            workflow: w
            activities:
              - name: a
                call: noop
                with: {token: "Bearer ${ secrets.CRM_TOKEN }"}
              - name: b
                call: noop
                when: ${ secrets ~= nil }
              - name: c
                call: noop
                with: {fine: "${ input.secrets }", quoted: "${ 'secrets' }"}
            """
        ])
        let result = ProjectLoader(projectDirectory: project.url).loadProject()
        #expect(
            result.diagnostics.map(\.description) == [
                "workflows/w.yaml:5:27: error[BadTemplate]: secrets cannot be used here: ${ secrets.CRM_TOKEN }",
                "workflows/w.yaml:8:11: error[BadTemplate]: secrets cannot be used here: ${ secrets ~= nil }",
            ])
        #expect(result.diagnostics.first?.hint?.contains("only in moonflow.yaml's connections") == true)
    }

    @Test func secretsComeFromThePrefixedEnvironmentAndAnOwnerOnlyFile() throws {
        let project = try TemporaryProject(files: ["secrets.yaml": "CRM_TOKEN: from-file\nP: 'pw: with colon'\n"])
        let file = project.url.appendingPathComponent("secrets.yaml")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        var config = EngineConfig(secretsFile: "secrets.yaml", secretsEnvironmentPrefix: "MOONFLOW_SECRET_")
        config.connections["crm"] = Connection(name: "crm", url: "https://crm.example", auth: .bearer(SecretText([.secret("CRM_TOKEN")])))
        let secrets = try SecretsLoader.load(
            config, project: project.url, environment: ["MOONFLOW_SECRET_CRM_TOKEN": "from-env", "MOONFLOW_SECRET_K": "k", "OTHER": "x"]
        ).get()
        #expect(secrets == ["CRM_TOKEN": "from-file", "P": "pw: with colon", "K": "k"])

        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: file.path)
        guard case .failure(let readable) = SecretsLoader.load(config, project: project.url, environment: [:]) else {
            Issue.record("a group-readable secrets file must be refused")
            return
        }
        #expect(readable.description == "the secrets file secrets.yaml is readable by others (mode 640): run chmod 600 secrets.yaml")
    }

    @Test func aMissingSecretIsNamed() throws {
        let project = try TemporaryProject(files: [:])
        var config = EngineConfig(secretsEnvironmentPrefix: "MOONFLOW_SECRET_")
        config.connections["crm"] = Connection(
            name: "crm", url: "https://crm.example", auth: .bearer(SecretText([.secret("CRM_TOKEN")])),
            location: SourceLocation(file: "moonflow.yaml", line: 3, column: 3))
        guard case .failure(let error) = SecretsLoader.load(config, project: project.url, environment: [:]) else {
            Issue.record("a missing secret must be refused")
            return
        }
        #expect(
            error.description
                == "secret 'CRM_TOKEN' used by connection 'crm' (moonflow.yaml:3:3) is not defined: set MOONFLOW_SECRET_CRM_TOKEN")
    }
}
