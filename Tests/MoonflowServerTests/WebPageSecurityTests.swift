import AsyncHTTPClient
import Foundation
import MoonflowEngine
import MoonflowModel
import NIOCore
import Testing

@testable import MoonflowServer

/// Issue 12, item 1b: the web page holds an admin's token, and shows what any caller wrote (run
/// ids, task forms, errors). It must never turn that data into markup or code.
@Suite("The web page: no script from data, a strict CSP", .serialized, .timeLimit(.minutes(2)))
struct WebPageSecurityTests {
    @Test func thePageIsServedWithAStrictContentSecurityPolicy() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: client.base + "/"), timeout: .seconds(10))
            let policy = try #require(response.headers.first(name: "Content-Security-Policy"))
            let page = String(buffer: try await response.body.collect(upTo: 1 << 20))
            let directives = Dictionary(
                policy.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1).map(String.init) }
                    .map { ($0[0], $0.count > 1 ? $0[1] : "") }, uniquingKeysWith: { first, _ in first })
            let scripts = try #require(directives["script-src"])
            #expect(!scripts.contains("unsafe-inline") && !scripts.contains("unsafe-eval") && !scripts.contains("unsafe-hashes"))
            #expect(directives["default-src"] == "'none'")
            #expect(directives["frame-ancestors"] == "'none'")
            #expect(response.headers.first(name: "X-Content-Type-Options") == "nosniff")

            // The one inline script is the one the policy's hash allows.
            let start = try #require(page.range(of: "<script>"))
            let end = try #require(page.range(of: "</script>", range: start.upperBound..<page.endIndex))
            let script = String(page[start.upperBound..<end.lowerBound])
            #expect(scripts.contains("'\(WebPage.hash(script))'"))
            #expect(page.components(separatedBy: "<script").count == 2)

            // No inline handler, no HTML built from strings.
            #expect(page.range(of: #"\son[a-z]+\s*="#, options: [.regularExpression, .caseInsensitive]) == nil)
            for banned in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "javascript:"] {
                #expect(!page.contains(banned), "\(banned)")
            }
            #expect(!script.contains("<"), "the script writes no markup")
        }
    }

    /// Ids, task forms and errors with payloads, planted straight into the store: the API refuses
    /// such run ids, but the page must be safe for any string (a child run's id holds `/`).
    static let runID = "x');window.__pwned=1;document.title='PWNED';('/<img src=x onerror=window.__pwned=2>\"&"
    static let failedRunID = "r2');window.__pwned=6;(' child/act"

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
                .runFailing(cause: .failed, error: ActivityFailure(.activityError, "<img src=x onerror=window.__pwned=7>')"), activity: nil),
                runID: failedRunID, workflow: "hello", at: at(7)),
            RunEvent(.runFailed, runID: failedRunID, workflow: "hello", at: at(8)),
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

    @Test(.enabled(if: Browser.available, "chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)"))
    func noPayloadRunsInARealBrowser() async throws {
        let store = InMemoryRunStore()
        try await Self.plant(store)
        try await TestServer.run(Fixtures.project, insecure: true, store: store) { client, _ in
            try await Browser.session { browser in
                try await browser.open(client.base + "/")
                // Open every run and every task, choose every option: what a curious admin does.
                let outcome = try await browser.run(
                    """
                    const done = arguments[arguments.length - 1];
                    const sleep = ms => new Promise(r => setTimeout(r, ms));
                    (async () => {
                      for (let i = 0; i < 50 && document.querySelectorAll("#runs button, #tasks button").length < 3; i++) await sleep(100);
                      const opened = [];
                      for (const button of [...document.querySelectorAll("#runs button")]) {
                        button.click();
                        await sleep(400);
                        opened.push(document.getElementById("run").textContent);
                      }
                      for (const button of [...document.querySelectorAll("#tasks button")]) {
                        button.click();
                        await sleep(400);
                      }
                      for (const option of [...document.querySelectorAll("#task option")]) {
                        option.click();
                        option.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
                      }
                      for (const node of [...document.querySelectorAll("#task *")]) node.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
                      await sleep(500);
                      done(JSON.stringify({pwned: window.__pwned ?? null, title: document.title, opened,
                        task: document.getElementById("task").textContent, options: document.querySelectorAll("#task option").length,
                        images: document.querySelectorAll("img").length}));
                    })();
                    """)
                let result = try Value(json: Array((outcome.stringValue ?? "{}").utf8))
                #expect(result["pwned"] == .null, "a payload ran: \(result)")
                #expect(result["title"] == "Moonflow")
                #expect(result["images"] == 0)
                // The ids went into URLs encoded: both runs opened (a report, not an error).
                let opened = result["opened"]?.arrayValue?.compactMap(\.stringValue) ?? []
                #expect(opened.count == 2)
                #expect(opened.contains { $0.contains("approval") && $0.contains("waiting") }, "\(opened)")
                #expect(opened.contains { $0.contains("<img src=x onerror=window.__pwned=7>") }, "the error shows as text: \(opened)")
                #expect(result["options"] == 2)
                #expect(result["task"]?.stringValue?.contains(Self.runID) == true)
            }
        }
    }
}

/// Chromium driven through chromedriver's WebDriver HTTP API.
struct Browser {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var available: Bool { chromium != nil && driver != nil }

    let base: String
    let session: String

    static func session(_ body: (Browser) async throws -> Void) async throws {
        let port = Int.random(in: 20000...40000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: driver!)
        process.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate() }
        let base = "http://127.0.0.1:\(port)"
        for _ in 0..<100 {
            if (try? await call(base + "/status", "GET")) != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let created = try await call(
            base + "/session", "POST",
            [
                "capabilities": [
                    "alwaysMatch": [
                        "browserName": "chrome",
                        "goog:chromeOptions": [
                            "binary": .string(chromium!),
                            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
                        ],
                    ]
                ]
            ])
        let session = try #require(created["sessionId"]?.stringValue)
        let browser = Browser(base: base, session: session)
        do {
            try await body(browser)
        } catch {
            _ = try? await call(base + "/session/\(session)", "DELETE")
            throw error
        }
        _ = try? await call(base + "/session/\(session)", "DELETE")
    }

    func open(_ url: String) async throws {
        _ = try await Self.call(base + "/session/\(session)/url", "POST", ["url": .string(url)])
    }

    /// Runs an asynchronous script (it calls its last argument with the result).
    func run(_ script: String) async throws -> Value {
        _ = try await Self.call(base + "/session/\(session)/timeouts", "POST", ["script": 30000])
        return try await Self.call(base + "/session/\(session)/execute/async", "POST", ["script": .string(script), "args": []])
    }

    @discardableResult
    static func call(_ url: String, _ method: String, _ body: Value? = nil) async throws -> Value {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.jsonString()))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
        let value = try Value(json: Array(text.utf8))
        guard response.status.code == 200 else { throw RawError("webdriver \(method) \(url): \(response.status.code) \(text.prefix(500))") }
        return value["value"] ?? .null
    }
}
