import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import Synchronization
import Testing

/// Secrets a service echoes never reach the store, the logs or the API (docs/integrations.md,
/// "Secrets and redaction"): the SQLite files and every logged line are searched byte by byte.
@Suite struct RedactionTests {
    static let secrets = ["S_TOKEN": "tok-5ecr3t-bearer", "S_KEY": "key-5ecr3t-header", "S_PASSWORD": "pw-5ecr3t-basic"]
    static var basic: String { Data("ada:pw-5ecr3t-basic".utf8).base64EncodedString() }

    /// Every value that must not be found anywhere.
    static var forbidden: [String] { Array(secrets.values) + [basic] }

    @Test func echoedSecretsAreRedactedEverywhereTheyWouldBeKept() async throws {
        // The service echoes every header it got, in JSON, in text, and in an error body.
        let stub = try await ServiceStub.start { request in
            let headers = Value.object(.init(uniqueKeysWithValues: request.headers.map { ($0.0.lowercased(), Value.string($0.1)) }))
            switch request.path {
            case "/fail": return .text("denied for \(request.header("Authorization") ?? "")", status: 500)
            case "/text": return .text("you sent \(request.header("Authorization") ?? "") and \(request.header("X-Api-Key") ?? "")",
                headers: [("X-Echo", request.header("Authorization") ?? "")])
            default: return .json(Value.object(["headers": headers]).jsonString())
            }
        }
        defer { Task { await stub.stop() } }
        let config = """
            secrets: {env_prefix: S_}
            connections:
              crm:
                url: \(stub.base)
                auth: {bearer: "${ secrets.TOKEN }"}
                headers: {X-Api-Key: "${ secrets.KEY }"}
                allow_private_network: true
              legacy:
                url: \(stub.base)
                auth: {basic: {user: ada, password: "${ secrets.PASSWORD }"}}
                allow_private_network: true
            """
        let workflow = """
            workflow: leak
            activities:
              - name: json_echo
                call: http
                with: {connection: crm, path: /echo}
              - name: lua_echo
                run: |
                  local r = http.request{connection = "legacy", path = "/echo"}
                  local t = http.request{connection = "crm", path = "/text"}
                  log.info("echoed " .. t.body, {r = r})
                  emit("echoed", {r = r, t = t})
                  workflow.seen = t.body
                  return {r = r, t = t}
              - name: error_echo
                call: http
                with: {connection: crm, path: /fail}
                fallback: {output: {error: "${ error.message .. ' ' .. error.details.body }"}}
              - name: lua_fails
                run: |
                  local t = http.request{connection = "crm", path = "/text"}
                  fail("Echoed", t.body, {headers = t.headers})
                fallback: skip
            """
        let project = try HTTPProject(config: config, workflows: ["leak": workflow])
        let lines = LogLines()
        let logger = Logger(label: "redaction") { _ in lines.handler }
        let runtime = try project.runtime(store: .configured, environment: Self.secrets, logger: logger)
        let report = try await project.run("leak", on: runtime)
        #expect(report.status == .completed)
        let api = report.toValue().jsonString()
        // The service did echo them: the markers are where the values would be.
        #expect(api.contains("Bearer [secret:TOKEN]") && api.contains("[secret:KEY]") && api.contains("Basic [secret:legacy.basic_auth]"))
        #expect(lines.text.contains("echoed you sent Bearer [secret:TOKEN]"))
        let history = try await runtime.store.journal(of: report.runID).map { $0.toValue().jsonString() }.joined()

        var searched = [api, lines.text, history]
        let state = project.url.appendingPathComponent(".moonflow")
        for file in try FileManager.default.contentsOfDirectory(atPath: state.path) {
            searched.append(String(decoding: try Data(contentsOf: state.appendingPathComponent(file)), as: UTF8.self))
        }
        for secret in Self.forbidden {
            for (index, text) in searched.enumerated() {
                #expect(!text.contains(secret), "secret found in source \(index)")
            }
        }
    }
}

/// Every line logged, at every level, as text with its metadata.
final class LogLines: Sendable {
    private let buffer = Mutex("")
    var text: String { buffer.withLock { $0 } }
    var handler: Handler { Handler(lines: self) }

    struct Handler: LogHandler {
        let lines: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            lines.buffer.withLock { $0 += "\(event.level) \(event.message) \(all)\n" }
        }
    }
}
