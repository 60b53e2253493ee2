import AsyncHTTPClient
import Foundation
import MoonflowEngine
import MoonflowModel
import NIOCore
import Testing

@testable import MoonflowServer

/// Issue 12, item 1b, and issue 19: the console holds an admin's token, and shows what any caller
/// wrote (run ids, task forms, errors, outputs, logs). It must never turn that data into markup or
/// code, and its policy must refuse any that a mistake let through.
@Suite("The web console: no script from data, a strict CSP", .serialized, .timeLimit(.minutes(2)))
struct WebPageSecurityTests {
    static func directives(_ policy: String) -> [String: String] {
        Dictionary(
            policy.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1).map(String.init) }
                .map { ($0[0], $0.count > 1 ? $0[1] : "") }, uniquingKeysWith: { first, _ in first })
    }

    @Test func thePageIsServedWithAStrictContentSecurityPolicyAndItsFilesAreCachedForGood() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let page = try await client.get("/", token: nil)
            #expect(page.status == 200)
            let directives = Self.directives(try #require(page.headers.first(name: "Content-Security-Policy")))
            let scripts = try #require(directives["script-src"])
            #expect(scripts == "'self'")
            #expect(directives["style-src"] == "'self'")
            #expect(directives["default-src"] == "'none'")
            #expect(directives["frame-ancestors"] == "'none'")
            #expect(directives["require-trusted-types-for"] == "'script'")
            #expect(directives["trusted-types"] == "'none'")
            #expect(page.headers.first(name: "X-Content-Type-Options") == "nosniff")
            #expect(page.headers.first(name: "Cache-Control") == "no-cache")

            // No inline script, style or handler: only files under /assets/<digest>/.
            #expect(page.text.range(of: #"<script(?![^>]*\ssrc=)"#, options: .regularExpression) == nil)
            #expect(!page.text.contains("<style") && !page.text.contains("style="))
            #expect(page.text.range(of: #"\son[a-z]+\s*="#, options: [.regularExpression, .caseInsensitive]) == nil)
            let etag = try #require(page.headers.first(name: "ETag"))
            let digest = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            #expect(page.text.contains("/assets/\(digest)/app.js"))

            // Revalidation: the same page is a 304 without a body.
            var revalidated = HTTPClientRequest(url: client.base + "/")
            revalidated.headers.add(name: "If-None-Match", value: etag)
            let notModified = try await HTTPClient.shared.execute(revalidated, timeout: .seconds(10))
            #expect(notModified.status.code == 304)

            // Every file: immutable, its own type, and none holds an HTML or code sink.
            let assets = try #require(ConsoleAssets.bundled)
            #expect(assets.digest == digest)
            #expect(assets.files.keys.contains("graph.js") && assets.files.keys.contains("console.css"))
            for name in assets.files.keys.sorted() {
                let answer = try await client.get("/assets/\(digest)/\(name)", token: nil)
                #expect(answer.status == 200, "\(name)")
                #expect(answer.headers.first(name: "Cache-Control") == "public, max-age=31536000, immutable")
                #expect(answer.headers.first(name: "Content-Type") == ConsoleAssets.contentType(of: name))
                for banned in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "javascript:", "setAttribute(\"on"] {
                    #expect(!answer.text.contains(banned), "\(name) holds \(banned)")
                }
            }
            #expect(try await client.get("/assets/0000000000000000/app.js", token: nil).status == 404)
            #expect(try await client.get("/assets/\(digest)/missing.js", token: nil).status == 404)
            #expect(try await client.get("/assets/\(digest)/..%2Fconsole.css", token: nil).status == 404)
        }
    }

    /// Ids, task forms and errors with payloads, planted straight into the store: the API refuses
    /// such run ids, but the page must be safe for any string (a child run's id holds `/`).
    static let runID = "x');window.__pwned=1;document.title='PWNED';('/<img src=x onerror=window.__pwned=2>\"&"
    static let failedRunID = "r2');window.__pwned=6;(' child/act"
    static let errorPayload = "<img src=x onerror=window.__pwned=7>')"
    static let logPayload = "<img src=x onerror=window.__pwned=10> logged"

    static func plant(_ store: InMemoryRunStore) async throws {
        func at(_ n: Int64) -> Timestamp { Timestamp(nanosecondsSinceEpoch: 1_700_000_000_000_000_000 + n) }
        let form: Value = [
            "type": "object",
            "properties": [
                "choice": ["type": "string", "title": "<img src=x onerror=window.__pwned=8>", "enum": ["a' onclick='window.__pwned=3' x='", "<img src=x onerror=window.__pwned=4>"]],
                "n\"><img src=x onerror=window.__pwned=5>": ["type": "string"],
            ],
        ]
        let waiting = [
            RunEvent(
                .runQueued(QueuedRun(definitionHash: "", input: [:], activities: ["approve", "record"])), runID: runID, workflow: "approval",
                at: at(0)),
            RunEvent(.runStarted(deadline: nil), runID: runID, workflow: "approval", at: at(1)),
            RunEvent(
                .activityWaiting(.task(id: runID + ":approve:1")), runID: runID, workflow: "approval", activity: "approve", attempt: 1,
                at: at(2)),
            RunEvent(
                .taskCreated(CreatedTask(id: runID + ":approve:1", tokenDigest: "", users: [], groups: [], form: form, due: nil, reminders: [])),
                runID: runID, workflow: "approval", activity: "approve", attempt: 1, at: at(3)),
            RunEvent(.runWaiting, runID: runID, workflow: "approval", at: at(4)),
        ]
        let failed = [
            RunEvent(.runQueued(QueuedRun(definitionHash: "", input: [:], activities: ["greet"])), runID: failedRunID, workflow: "hello", at: at(5)),
            RunEvent(.runStarted(deadline: nil), runID: failedRunID, workflow: "hello", at: at(6)),
            RunEvent(
                .activityScheduled(input: ["<b>x</b>": "<img src=x onerror=window.__pwned=9>"]), runID: failedRunID, workflow: "hello",
                activity: "greet", attempt: 1, at: at(7)),
            RunEvent(.activityStarted, runID: failedRunID, workflow: "hello", activity: "greet", attempt: 1, at: at(8)),
            RunEvent(
                .activityLog(ScriptLogEntry(level: "info", message: Self.logPayload, fields: ["<svg onload=window.__pwned=11>": "x"])),
                runID: failedRunID, workflow: "hello", activity: "greet", attempt: 1, at: at(9)),
            RunEvent(
                .activityCompleted(
                    ActivityCompletion(
                        seq: 1, output: ["html": "<script>window.__pwned=12</script>"], attempts: 1,
                        contextWrites: ["<img src=x onerror=window.__pwned=13>": "<iframe srcdoc='<script>parent.__pwned=14</script>'>"])),
                runID: failedRunID, workflow: "hello", activity: "greet", attempt: 1, at: at(10)),
            RunEvent(
                .runFailing(cause: .failed, error: ActivityFailure(.activityError, Self.errorPayload), activity: nil),
                runID: failedRunID, workflow: "hello", at: at(11)),
            RunEvent(.runFailed, runID: failedRunID, workflow: "hello", at: at(12)),
        ]
        for events in [waiting, failed] {
            let id = events[0].runID
            let first = try #require(RunState.folding([events[0]]))
            let workflow = events[0].workflow
            let file = "workflows/\(workflow).yaml"
            let text = workflow == "hello" ? Fixtures.hello : Fixtures.approval(version: "1")
            let definition = PinnedDefinition(workflowID: workflow, hash: "planted-\(workflow)", workflowFile: file, files: [file: text])
            _ = try await store.create(first, definition: definition, events: [events[0]])
            try await store.append(id, events: Array(events.dropFirst()), newState: try #require(RunState.folding(events)))
        }
    }

    /// A curious admin opens every page, run, node, history entry, task and option; no payload
    /// runs, no element comes from data, the texts show as they were written, and the console
    /// logs no error (a CSP or Trusted Types refusal would be one).
    @Test(.enabled(if: Browser.available, Browser.missing))
    func noPayloadRunsInARealBrowser() async throws {
        let store = InMemoryRunStore()
        try await Self.plant(store)
        try await TestServer.run(Fixtures.project, insecure: true, store: store) { client, _ in
            try await Browser.session { browser in
                try await browser.open(client.base + "/#/runs")
                try await browser.waitFor("document.querySelectorAll('[data-list=runs] a').length === 2", "the two planted runs")
                var seen: [String] = []
                for id in [Self.runID, Self.failedRunID] {
                    try await browser.eval("location.hash = '#/runs/' + encodeURIComponent(\(Value.string(id).jsonString()))")
                    try await browser.waitFor(
                        "document.querySelector('[data-run-id]')?.textContent === \(Value.string(id).jsonString()) && document.querySelectorAll('[data-history] tr').length > 3",
                        "the run page of \(id)")
                    let text = try await browser.run(
                        """
                        const done = arguments[arguments.length - 1];
                        (async () => {
                          for (const node of document.querySelectorAll("[data-activity]")) {
                            node.dispatchEvent(new MouseEvent("click", {bubbles: true}));
                            await new Promise(r => setTimeout(r, 300));
                          }
                          for (const d of document.querySelectorAll("details")) d.open = true;
                          await new Promise(r => setTimeout(r, 200));
                          done(document.getElementById("main").textContent);
                        })();
                        """)
                    seen.append(text.stringValue ?? "")
                }
                try await browser.eval("location.hash = '#/tasks'")
                try await browser.waitFor("document.querySelector('[data-list=tasks] a')", "the task inbox")
                try await browser.eval("document.querySelector('[data-list=tasks] a').click()")
                try await browser.waitFor("document.querySelector('[data-form=task] select')", "the task's form")
                let outcome = try await browser.run(
                    """
                    const done = arguments[arguments.length - 1];
                    (async () => {
                      const select = document.querySelector("[data-form=task] select");
                      for (const option of [...select.options]) { select.value = option.value; select.dispatchEvent(new Event("change")); }
                      for (const node of document.querySelectorAll("#main *")) node.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
                      await new Promise(r => setTimeout(r, 300));
                      done(JSON.stringify({pwned: window.__pwned ?? null, title: document.title, task: document.getElementById("main").textContent,
                        options: select.options.length,
                        foreign: document.querySelectorAll("img, iframe, script:not([src]), svg svg, object, embed").length}));
                    })();
                    """)
                let result = try Value(json: Array((outcome.stringValue ?? "{}").utf8))
                #expect(result["pwned"] == .null, "a payload ran: \(result)")
                #expect(result["title"] == "Moonflow")
                #expect(result["foreign"] == 0)
                #expect(result["options"] == 3, "a blank choice and the two enum values")
                #expect(result["task"]?.stringValue?.contains(Self.runID) == true)
                // The texts are shown as written.
                let failedPage = seen.last ?? ""
                #expect(failedPage.contains(Self.errorPayload), "the error as text")
                #expect(failedPage.contains(Self.logPayload), "the log line as text")
                #expect(failedPage.contains("<script>window.__pwned=12</script>"), "the output as text")
                #expect(failedPage.contains("<img src=x onerror=window.__pwned=13>"), "the context write as text")
                #expect(seen.first?.contains("approval") == true && seen.first?.contains("waiting") == true)
                #expect(try await browser.eval("return window.__pwned ?? null") == .null)
                let consoleErrors = try await browser.consoleErrors()
                #expect(consoleErrors.isEmpty, "\(consoleErrors)")
                // Had a string reached an HTML sink, the policy would have refused it: Trusted Types.
                let sink = try await browser.eval("try { document.createElement('div').innerHTML = '<b>x</b>'; return 'assigned'; } catch (e) { return e.name; }")
                #expect(sink == "TypeError")
            }
        }
    }
}

