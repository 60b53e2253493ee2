import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

@testable import MoonflowServer

/// Issue 19: the web console in a real browser (Debian's chromium, headless, through chromedriver),
/// against the real server on a loopback port. Each test opens one browser and asserts on the
/// DOM's contract (docs/console.md): `data-activity`/`data-status` on graph nodes,
/// `data-compensation`, `data-action`, `data-run-status`.
@Suite("The web console in a real browser", .serialized, .timeLimit(.minutes(2)))
struct ConsoleBrowserTests {
    static let refund = """
        workflow: refund
        context: {payment: null, note: null}
        error_handling:
          workflow_error:
            strategy: compensate
        activities:
          - name: charge
            run: |
              log.info("charged", {amount = 10})
              workflow.payment = "p-1"
              workflow.note = "charged"
              return {payment = "p-1"}
            compensate:
              run: |
                workflow.payment = nil
                return {refunded = true}
          - name: ship
            needs: [charge]
            run: error({type = "Carrier", message = "no carrier", retryable = false})
        """

    static let intake = """
        workflow: intake
        activities:
          - name: review
            type: manual
            form:
              type: object
              required: [name, email, count, level]
              properties:
                name: {type: string, minLength: 2}
                email: {type: string, format: email}
                count: {type: integer, minimum: 1}
                urgent: {type: boolean}
                level: {type: string, enum: [low, high]}
                nickname: {type: string, not: {const: forbidden}}
                address:
                  type: object
                  required: [city]
                  properties: {city: {type: string}, zip: {type: string}}
                tags: {type: array, items: {type: string}}
          - name: file
            needs: [review]
            run: return {filed = true}
        """

    static var project: [String: String] {
        ["workflows/approval.yaml": Fixtures.approval(version: "1"), "workflows/refund.yaml": refund, "workflows/intake.yaml": intake, "workflows/hello.yaml": Fixtures.hello]
    }

    static func start(_ client: Client, _ workflow: String, _ input: Value = [:]) async throws -> String {
        let started = try await client.post("/v1/runs", ["workflow": .string(workflow), "input": input])
        return try #require(started.json["run_id"]?.stringValue, "\(started.text)")
    }

    static func openTask(_ client: Client, run: String) async throws -> String {
        let run = try await client.waitForStatus(run, ["waiting"])
        #expect(run["status"] == "waiting")
        let tasks = try await client.get("/v1/tasks").json["tasks"]?.arrayValue ?? []
        return try #require(tasks.first { $0["run_id"] == run["run_id"] }?["id"]?.stringValue)
    }

    static func js(_ text: String) -> String { Value.string(text).jsonString() }

    /// The example project of the repository, served as `make` serves it.
    static func examples() throws -> (URL, EngineConfig) {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        for item in ["workflows", "scripts", "schemas", "moonflow.yaml"] {
            try FileManager.default.copyItem(at: repository.appendingPathComponent(item), to: root.appendingPathComponent(item))
        }
        var config = try EngineConfigLoader.load(root.appendingPathComponent("moonflow.yaml"), required: true).get()
        config.tokens = Tokens.config.tokens
        return (root, config)
    }

    /// Every example workflow is drawn with a node per activity and its compensations; the layout
    /// keeps dependencies above their dependents and no two boxes overlap; every other page opens
    /// without a console error.
    @Test(.enabled(if: Browser.available, Browser.missing))
    func eachExampleWorkflowIsDrawnWithANodePerActivity() async throws {
        let (root, config) = try Self.examples()
        defer { try? FileManager.default.removeItem(at: root) }
        try await TestServer.run(project: root, insecure: true, config: config) { client in
            let workflows = try await client.get("/v1/workflows").json["workflows"]?.arrayValue ?? []
            #expect(workflows.count >= 4)
            try await Browser.session { browser in
                try await browser.open(client.base + "/#/workflows")
                try await browser.waitFor("document.querySelectorAll('[data-list=workflows] tbody tr').length === \(workflows.count)", "the list")
                try await browser.screenshot("workflows")
                for workflow in workflows {
                    let id = try #require(workflow["id"]?.stringValue)
                    let detail = try await client.get("/v1/workflows/\(id)").json
                    let activities = (detail["graph"]?["activities"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
                    #expect(activities == (workflow["activities"]?.arrayValue ?? []).compactMap(\.stringValue))
                    let compensated = (detail["graph"]?["activities"]?.arrayValue ?? []).filter { $0["compensation"] != .null }.count
                    try await browser.eval("location.hash = '#/workflows/' + encodeURIComponent(\(Self.js(id)))")
                    let drawn = try await browser.waitFor(
                        """
                        document.querySelector('[data-page=workflows-detail] h1')?.textContent.includes(\(Self.js(id))) &&
                          document.querySelectorAll('svg.graph [data-activity]').length === \(activities.count) &&
                          JSON.stringify({names: [...document.querySelectorAll('svg.graph [data-activity]')].map(n => n.getAttribute('data-activity')).sort(),
                            statuses: [...new Set([...document.querySelectorAll('svg.graph [data-activity]')].map(n => n.getAttribute('data-status')))],
                            compensations: document.querySelectorAll('svg.graph g[data-compensation]:not(.workflow-compensation)').length})
                        """, "the graph of \(id)")
                    let graph = try Value(json: Array((drawn.stringValue ?? "{}").utf8))
                    #expect(graph["names"]?.arrayValue?.compactMap(\.stringValue) == activities.sorted(), "\(id)")
                    #expect(graph["statuses"] == ["pending"])
                    #expect(graph["compensations"] == .int(Int64(compensated)), "\(id)")
                    if id == "order_processing" { try await browser.screenshot("workflow-graph") }
                }
                // The layout module itself, on every example graph.
                let checked = try await browser.run(
                    """
                    const done = arguments[arguments.length - 1];
                    (async () => {
                      const graphModule = document.querySelector('script[type=module]').src.replace(/app\\.js$/, 'graph.js');
                      const {layout} = await import(graphModule);
                      const problems = [];
                      const list = await (await fetch('/v1/workflows')).json();
                      for (const w of list.workflows) {
                        const g = (await (await fetch('/v1/workflows/' + encodeURIComponent(w.id))).json()).graph;
                        const l = layout(g);
                        const at = new Map(l.nodes.map(n => [n.name, n]));
                        if (l.nodes.length !== g.activities.length) problems.push(w.id + ': nodes');
                        for (const e of l.edges) if (!(at.get(e.from).layer < at.get(e.to).layer)) problems.push(`${w.id}: ${e.from} -> ${e.to}`);
                        for (const a of l.nodes) for (const b of l.nodes) {
                          if (a !== b && a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) problems.push(`${w.id}: ${a.name} overlaps ${b.name}`);
                        }
                        for (const n of l.nodes) if (n.x < 0 || n.y < 0 || n.x + n.width > l.width || n.y + n.height > l.height) problems.push(`${w.id}: ${n.name} outside`);
                      }
                      done(problems);
                    })().catch(e => done(['error: ' + e.message]));
                    """)
                #expect(checked == [])
                for page in ["monitoring", "dead-letters", "runs", "tasks"] {
                    try await browser.eval("location.hash = '#/\(page)'")
                    try await browser.waitFor(
                        "document.querySelector('[data-page=\(page)]') && document.getElementById('main').dataset.ready === 'true' && !document.querySelector('#main p.error')",
                        "the \(page) page")
                    if page == "monitoring" {
                        try await browser.waitFor("document.querySelectorAll('[data-chart]').length >= 4", "the charts")
                        try await browser.screenshot("monitoring")
                    }
                }
                let consoleErrors = try await browser.consoleErrors()
                #expect(consoleErrors.isEmpty, "\(consoleErrors)")
            }
        }
    }

    /// A run that failed and compensated: the failed activity shows `failed`, the undone one
    /// `compensated`, its compensation is listed and marked on the graph, the error is shown.
    @Test(.enabled(if: Browser.available, Browser.missing))
    func aCompensatedRunShowsTheFailureAndItsCompensations() async throws {
        try await TestServer.run(Self.project, insecure: true) { client in
            let id = try await Self.start(client, "refund")
            let run = try await client.waitForStatus(id, ["compensated", "compensation_failed", "failed"])
            #expect(run["status"] == "compensated")
            try await Browser.session { browser in
                try await browser.open(client.base + "/#/runs/\(id)")
                let shown = try await browser.waitFor(
                    """
                    document.querySelector('[data-run-status=compensated]') &&
                      document.querySelector('[data-compensations] tr[data-compensation=charge]')?.textContent.includes('compensated') &&
                      JSON.stringify({
                        ship: document.querySelector('svg.graph [data-activity=ship]').getAttribute('data-status'),
                        charge: document.querySelector('svg.graph [data-activity=charge]').getAttribute('data-status'),
                        undo: document.querySelector('svg.graph g[data-compensation=charge]').getAttribute('data-status'),
                        error: document.querySelector('[data-run-error]').textContent,
                        logs: document.querySelector('[data-logs]').textContent,
                        bars: document.querySelectorAll('[data-timeline] [data-segment=compensation]').length})
                    """, "the compensated run")
                let page = try Value(json: Array((shown.stringValue ?? "{}").utf8))
                #expect(page["ship"] == "failed")
                #expect(page["charge"] == "compensated")
                #expect(page["undo"] == "compensated")
                #expect(page["error"]?.stringValue?.contains("no carrier") == true)
                #expect(page["logs"]?.stringValue?.contains("charged") == true)
                #expect(page["bars"] == 1)
                try await browser.eval("document.querySelector('svg.graph [data-activity=ship]').dispatchEvent(new MouseEvent('click', {bubbles: true}))")
                try await browser.waitFor("document.querySelector('[data-activity-error]')?.textContent.includes('Carrier')", "the activity's error")
                try await browser.screenshot("run-compensated")

                // Context step by step, then only the watched variable's changes.
                let steps = try await browser.eval(
                    """
                    const rows = () => [...document.querySelectorAll('[data-context-steps] tr')].filter(r => !r.hidden).map(r => r.dataset.variable + '=' + r.cells[3].textContent);
                    const every = rows();
                    const watch = document.querySelector('[data-watch]');
                    watch.value = 'payment';
                    watch.dispatchEvent(new Event('change'));
                    return JSON.stringify({every, payment: rows(), now: JSON.parse(document.querySelector('[data-context]').textContent)});
                    """)
                let context = try Value(json: Array((steps.stringValue ?? "{}").utf8))
                #expect(context["every"] == [#"note="charged""#, #"payment="p-1""#, "payment=null"], "\(context)")
                #expect(context["payment"] == [#"payment="p-1""#, "payment=null"])
                #expect(context["now"] == ["payment": .null, "note": "charged"])

                // The console's event reader resumes after the id it is given (`Last-Event-ID`): from 0
                // it gets the run's whole history, from its third event the rest, each once.
                let resumed = try await browser.run(
                    """
                    const done = arguments[arguments.length - 1];
                    (async () => {
                      const {followEvents} = await import(document.querySelector('script[type=module]').src.replace(/app\\.js$/, 'api.js'));
                      const read = (from, until) => new Promise(resolve => {
                        const got = [];
                        const stop = followEvents('run_id=' + encodeURIComponent(\(Self.js(id))), {lastEventId: from, onEvent: e => {
                          got.push(e.id);
                          if (e.type === 'run.compensated' || got.length === until) { stop(); resolve(got); }
                        }});
                        setTimeout(() => { stop(); resolve(got); }, 15000);
                      });
                      const all = await read('0');
                      const rest = await read(all[2], all.length - 3);
                      done({all, rest});
                    })().catch(e => done({error: e.message}));
                    """)
                let all = resumed["all"]?.arrayValue ?? []
                #expect(all.count > 5, "\(resumed)")
                #expect(resumed["rest"]?.arrayValue == Array(all.dropFirst(3)), "\(resumed)")

                // The runs list, filtered in its route: by workflow and status, then by a status it does not have.
                try await browser.eval("location.hash = '#/runs?workflow=refund&status=compensated'")
                try await browser.waitFor(
                    "document.querySelector('[data-page=runs] select[name=status]')?.value === 'compensated' && document.querySelector('[data-list=runs] tr[data-run=\\'\(id)\\']')",
                    "the filtered list")
                try await browser.eval("location.hash = '#/runs?workflow=refund&status=completed'")
                try await browser.waitFor(
                    "document.querySelector('[data-page=runs] select[name=status]')?.value === 'completed' && document.querySelector('[data-list=runs] tbody')?.textContent === 'No runs.'",
                    "the empty list")
                let consoleErrors = try await browser.consoleErrors()
                #expect(consoleErrors.isEmpty, "\(consoleErrors)")
            }
        }
    }

    /// A run started from the form generated from the workflow's input schema lands on its page;
    /// a waiting run turns `completed` there, live, without the page reloading.
    @Test(.enabled(if: Browser.available, Browser.missing))
    func aRunStartedFromItsFormAndAWaitingRunTurnCompletedWithoutReload() async throws {
        try await TestServer.run(Self.project, insecure: true) { client in
            try await Browser.session { browser in
                try await browser.open(client.base + "/#/workflows/hello")
                try await browser.waitFor("document.querySelector('[data-action=start]')", "the start button")
                try await browser.eval("document.querySelector('[data-action=start]').click()")
                try await browser.waitFor("document.querySelector('[data-form=start] [data-path=name] input')", "the input form")
                try await browser.eval("document.querySelector('[data-form=start] [data-path=name] input').value = 'Ada'; document.querySelector('[data-submit=start]').click()")
                try await browser.waitFor("location.hash.startsWith('#/runs/') && document.querySelector('[data-run-status=completed]')", "the started run, completed")
                let started = try await browser.eval("return decodeURIComponent(location.hash.slice('#/runs/'.length))")
                let report = try await client.get("/v1/runs/\(try #require(started.stringValue))/report").json
                #expect(report["input"] == ["name": "Ada"])
                #expect(report["output"]?["greeting"] == "hello Ada")

                let id = try await Self.start(client, "approval")
                let task = try await Self.openTask(client, run: id)
                try await browser.eval("location.hash = '#/runs/' + encodeURIComponent(\(Self.js(id))); window.__samePage = true")
                try await browser.waitFor(
                    "document.querySelector('[data-run-status=waiting]') && document.querySelector('svg.graph [data-activity=approve]').getAttribute('data-status') === 'waiting' && document.querySelector('[data-live=open]')",
                    "the waiting run, live")
                try await browser.screenshot("run-waiting")
                let completed = try await client.post("/v1/tasks/\(task)/complete", ["data": ["approved": true]])
                #expect(completed.status == 200, "\(completed.text)")
                let after = try await browser.waitFor(
                    """
                    document.querySelector('[data-run-status=completed]') &&
                      document.querySelector('svg.graph [data-activity=record]').getAttribute('data-status') === 'completed' &&
                      document.querySelector('[data-history] tr[data-event="run.completed"]') &&
                      JSON.stringify({same: window.__samePage === true, approve: document.querySelector('svg.graph [data-activity=approve]').getAttribute('data-status'),
                        actions: document.querySelectorAll('[data-action]').length, completions: document.querySelectorAll('[data-history] tr[data-event="run.completed"]').length})
                    """, "the run turning completed")
                let page = try Value(json: Array((after.stringValue ?? "{}").utf8))
                #expect(page["same"] == true, "the page did not reload")
                #expect(page["approve"] == "completed")
                #expect(page["actions"] == 1, "a finished run offers rerun alone")
                #expect(page["completions"] == 1, "each event once")
                let consoleErrors = try await browser.consoleErrors()
                #expect(consoleErrors.isEmpty, "\(consoleErrors)")
            }
        }
    }

    /// A task completed through the form generated from its schema: the page refuses what the
    /// schema refuses before sending, shows the server's errors at their fields, then completes it.
    @Test(.enabled(if: Browser.available, Browser.missing))
    func aTaskIsCompletedThroughItsGeneratedForm() async throws {
        try await TestServer.run(Self.project, insecure: true) { client in
            let run = try await Self.start(client, "intake")
            let task = try await Self.openTask(client, run: run)
            try await Browser.session { browser in
                try await browser.open(client.base + "/#/tasks")
                try await browser.waitFor("document.querySelector('[data-list=tasks] a')", "the inbox")
                try await browser.eval("location.hash = '#/tasks/' + encodeURIComponent(\(Self.js(task)))")
                let kinds = try await browser.waitFor(
                    """
                    document.querySelector('[data-form=task]') && JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-form=task] [data-path]')]
                      .map(n => [n.getAttribute('data-path'), (n.querySelector('input, select, textarea')?.type ?? n.tagName.toLowerCase())])))
                    """, "the form")
                let fields = try Value(json: Array((kinds.stringValue ?? "{}").utf8))
                #expect(fields["name"] == "text")
                #expect(fields["email"] == "email")
                #expect(fields["count"] == "number")
                #expect(fields["urgent"] == "checkbox")
                #expect(fields["level"] == "select-one")
                #expect(fields["address/city"] == "text")
                #expect(fields["tags"] != nil)

                // Nothing filled in: refused in the page, nothing sent.
                try await browser.eval("document.querySelector('[data-submit=complete]').click()")
                try await browser.waitFor("document.querySelector('[data-error-for=name]').textContent.includes('required')", "the required error")
                #expect(try await client.get("/v1/tasks/\(task)").json["status"] == "open")
                try await browser.screenshot("task-form")

                // Filled in, but the server refuses the nickname (`not`, which the page leaves to it).
                try await browser.eval(
                    """
                    const set = (path, value) => { const n = document.querySelector(`[data-form=task] [data-path="${path}"] input, [data-form=task] [data-path="${path}"] select`);
                      if (n.type === 'checkbox') n.checked = value; else n.value = value; };
                    set('name', 'Ada'); set('email', 'ada@example.com'); set('count', '3'); set('urgent', true);
                    set('level', '1'); set('nickname', 'forbidden'); set('address/city', 'Paris');
                    document.querySelector('[data-add=tags]').click();
                    set('tags/0', 'vip');
                    document.querySelector('[data-submit=complete]').click();
                    """)
                try await browser.waitFor("document.querySelector('[data-error-for=nickname]').textContent.length > 0", "the server's error at its field")
                #expect(try await client.get("/v1/tasks/\(task)").json["status"] == "open")

                try await browser.eval(
                    "document.querySelector('[data-form=task] [data-path=nickname] input').value = 'ace'; document.querySelector('[data-submit=complete]').click()")
                try await browser.waitFor("document.querySelector('[data-completed]')", "the completion")
                let done = try await client.get("/v1/tasks/\(task)").json
                #expect(done["status"] == "completed")
                #expect(
                    done["data"]
                        == [
                            "name": "Ada", "email": "ada@example.com", "count": 3, "urgent": true, "level": "high", "nickname": "ace",
                            "address": ["city": "Paris"], "tags": ["vip"],
                        ])
                #expect(try await client.waitForStatus(run, ["completed"])["status"] == "completed")
                // The one error is the refused completion's 400, as the browser logs every failed request.
                let consoleErrors = try await browser.consoleErrors().filter { !($0.contains("/complete") && $0.contains("400")) }
                #expect(consoleErrors.isEmpty, "\(consoleErrors)")
            }
        }
    }

    /// With tokens: the console asks for one (a 401), keeps it in the tab's session storage, and an
    /// operator cancels a waiting run from its page after confirming.
    @Test(.enabled(if: Browser.available, Browser.missing))
    func cancelWorksFromThePageWithTheTokenAskedOnce() async throws {
        try await TestServer.run(Self.project) { client in
            let id = try await Self.start(client, "approval")
            _ = try await Self.openTask(client, run: id)
            try await Browser.session { browser in
                try await browser.open(client.base + "/#/runs/" + (id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id))
                try await browser.waitFor("document.getElementById('token-dialog').open", "the token dialog")
                try await browser.eval(
                    "document.getElementById('token-input').value = \(Self.js(Tokens.operator)); document.querySelector('#token-form button[value=save]').click()")
                try await browser.waitFor(
                    "document.querySelector('[data-run-status=waiting]') && document.querySelector('[data-action=cancel]') && document.querySelector('[data-action=terminate]')",
                    "the run's actions")
                let storage = try await browser.eval("return JSON.stringify({session: sessionStorage.getItem('moonflow.token'), local: localStorage.length})")
                #expect(storage == .string(#"{"session":"\#(Tokens.operator)","local":0}"#))
                try await browser.eval("document.querySelector('[data-action=cancel]').click()")
                try await browser.waitFor("document.getElementById('confirm-dialog').open", "the confirmation")
                try await browser.screenshot("run-cancel")
                try await browser.eval("document.getElementById('confirm-yes').click()")
                try await browser.waitFor(
                    "document.querySelector('[data-run-status=cancelled]') && !document.querySelector('[data-action=cancel]') && "
                        + "[...document.querySelectorAll('[data-action]')].map(b => b.dataset.action).join() === 'redrive,rerun'", "the cancelled run")
                #expect(try await client.get("/v1/runs/\(id)").json["status"] == "cancelled")
                // Rerun, nothing selected: the whole workflow again, in a new run the page then shows.
                try await browser.eval("document.querySelector('[data-action=rerun]').click()")
                try await browser.waitFor("document.getElementById('confirm-dialog').open", "the rerun's confirmation")
                try await browser.eval("document.getElementById('confirm-yes').click()")
                let rerunHash = try await browser.waitFor(
                    "!location.hash.endsWith(\(Self.js(id))) && document.querySelector('[data-run-status=waiting]') && location.hash",
                    "the rerun's page")
                let rerun = try #require(rerunHash.stringValue?.split(separator: "/").last.map { String($0).removingPercentEncoding ?? String($0) })
                let rerunRun = try await client.get("/v1/runs/\(rerun)").json
                #expect(rerunRun["status"] == "waiting" && rerunRun["workflow"] == "approval")
                #expect(try await client.get("/v1/runs/\(rerun)/report").json["rerun_of"] == .string(id))
                // The one error is the first call's 401, as the browser logs every failed request.
                let consoleErrors = try await browser.consoleErrors().filter { !$0.contains("401") }
                #expect(consoleErrors.isEmpty, "\(consoleErrors)")
            }
        }
    }
}
