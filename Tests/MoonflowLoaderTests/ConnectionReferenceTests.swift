import MoonflowLoader
import MoonflowModel
import Testing

/// The connections a workflow names are moonflow.yaml's: a `call: http` through a connection that
/// does not exist, or a notification channel that is neither a connection nor `log`, is a load
/// error at its place (it used to load and fail each run). `call: http`'s request is checked as
/// far as it is written out.
@Suite struct ConnectionReferenceTests {
    static let workflow = """
        workflow: w
        error_handling:
          workflow_error:
            notification: {channels: [ops_webhok, log], recipients: [oncall]}
        activities:
          - name: lookup
            call: http
            with: {connection: crmm, method: GET, path: /leads}
          - name: dynamic
            call: http
            with: {connection: "${ input.service }", path: /x}
            needs: [lookup]
          - name: approve
            type: manual
            assign: [alice]
            notify: [team, ops_webhook]
            needs: [dynamic]
        """

    func load(_ text: String, connections: Set<String>?) throws -> [String] {
        let project = try TemporaryProject(files: ["workflows/w.yaml": text])
        var loader = ProjectLoader(projectDirectory: project.url)
        loader.connections = connections
        return loader.loadProject().diagnostics.map(\.description)
    }

    @Test func unknownConnectionsAndChannelsAreLoadErrorsAtTheirPlace() throws {
        let diagnostics = try load(Self.workflow, connections: ["crm", "ops_webhook"])
        #expect(
            diagnostics == [
                "workflows/w.yaml:4:31: error[UnknownReference]: no notification channel 'ops_webhok': a channel is a connection of moonflow.yaml or 'log' — did you mean 'ops_webhook'?",
                "workflows/w.yaml:8:24: error[UnknownReference]: no connection 'crmm' in moonflow.yaml — did you mean 'crm'?",
                "workflows/w.yaml:16:14: error[UnknownReference]: no notification channel 'team': a channel is a connection of moonflow.yaml or 'log'",
            ], "\(diagnostics)")
        // Known names, a template and `log` pass.
        let fixed = Self.workflow.replacingOccurrences(of: "ops_webhok", with: "ops_webhook").replacingOccurrences(of: "crmm", with: "crm")
            .replacingOccurrences(of: "team, ", with: "log, ")
        #expect(try load(fixed, connections: ["crm", "ops_webhook"]).isEmpty)
        // Without moonflow.yaml's connections known, names are not checked.
        #expect(try load(Self.workflow, connections: nil).isEmpty)
        // No connections at all: the hint says so.
        let project = try TemporaryProject(files: ["workflows/w.yaml": fixed])
        var loader = ProjectLoader(projectDirectory: project.url)
        loader.connections = []
        #expect(loader.loadProject().diagnostics.first?.hint == "moonflow.yaml defines no connections")
    }

    @Test func theRequestOfCallHTTPIsCheckedAsWritten() throws {
        let text = """
            workflow: w
            activities:
              - name: none
                call: http
              - name: keys
                call: http
                with: {connection: crm, verb: GET}
              - name: method
                call: http
                with: {connection: crm, method: FETCH}
              - name: both
                call: http
                with: {connection: crm, method: post, json: {a: 1}, body: text}
              - name: absolute
                call: http
                with: {connection: crm, path: "https://elsewhere.example/x"}
              - name: missing
                call: http
                with: {path: /x}
              - name: whole
                call: http
                with: ${ input.request }
            """
        let diagnostics = try load(text, connections: ["crm"])
        #expect(diagnostics.count == 6, "\(diagnostics)")
        #expect(diagnostics[0].hasPrefix("workflows/w.yaml:4:5: error[MissingKey]: 'none' calls http and needs `with:"))
        #expect(diagnostics[1].hasPrefix("workflows/w.yaml:7:29: error[UnknownKey]: unknown key 'verb' in the request of `call: http`"))
        #expect(diagnostics[2].hasPrefix("workflows/w.yaml:10:37: error[InvalidValue]: 'method' must be one of GET, HEAD"))
        #expect(diagnostics[3].hasPrefix("workflows/w.yaml:13:57: error[ConflictingKeys]: give 'json' or 'body', not both"))
        #expect(diagnostics[4].hasPrefix("workflows/w.yaml:16:35: error[InvalidValue]: 'path' is relative to the connection's url"))
        #expect(diagnostics[5].hasPrefix("workflows/w.yaml:19:11: error[MissingKey]: the request of `call: http` needs a 'connection'"))
    }
}
