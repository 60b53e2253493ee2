import AsyncHTTPClient
import Foundation
import MoonflowModel
import NIOCore
import Testing

/// Debian's headless Chromium driven through chromedriver's WebDriver HTTP API (no Selenium
/// needed: the protocol is plain JSON over HTTP).
struct Browser {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var available: Bool { chromium != nil && driver != nil }
    static let missing: Comment = "chromium and chromedriver are not installed (make test-deps, or apt-get install -y chromium chromium-driver)"

    let base: String
    let session: String

    /// A fresh browser for `body`, closed afterwards whatever happens.
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
                        "goog:loggingPrefs": ["browser": "ALL"],
                        "goog:chromeOptions": [
                            "binary": .string(chromium!),
                            "args": [
                                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                                "--window-size=1280,900",
                            ],
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

    /// Runs a synchronous script (a function body: `return` gives its value).
    @discardableResult
    func eval(_ script: String) async throws -> Value {
        try await Self.call(base + "/session/\(session)/execute/sync", "POST", ["script": .string(script), "args": []])
    }

    /// Waits until `expression` (JavaScript) is truthy, polling in the page; returns its value.
    /// Fails with `what` after `timeout`.
    @discardableResult
    func waitFor(_ expression: String, _ what: String, timeout: Duration = .seconds(20)) async throws -> Value {
        let milliseconds = timeout.components.seconds * 1000
        let value = try await run(
            """
            const done = arguments[arguments.length - 1];
            const deadline = Date.now() + \(milliseconds);
            const check = () => {
              let value = null;
              try { value = (() => \(expression))(); } catch (e) { value = null; }
              if (value) done({ok: value});
              else if (Date.now() > deadline) done({timeout: (document.getElementById("main") ?? document.body)?.innerText.slice(0, 3000) ?? ""});
              else setTimeout(check, 50);
            };
            check();
            """)
        guard let ok = value["ok"] else { throw RawError("timed out waiting for \(what); the page said: \(value["timeout"]?.stringValue ?? "")") }
        return ok
    }

    /// The browser console's errors (CSP refusals and uncaught exceptions among them).
    func consoleErrors() async throws -> [String] {
        let entries = try await Self.call(base + "/session/\(session)/se/log", "POST", ["type": "browser"])
        return (entries.arrayValue ?? []).filter { $0["level"]?.stringValue == "SEVERE" }.compactMap { $0["message"]?.stringValue }
    }

    /// Saves a PNG of the window to `$MOONFLOW_CONSOLE_SCREENSHOTS/<name>.png` when that variable
    /// names a folder (docs/console.md's pictures are made so); otherwise does nothing.
    func screenshot(_ name: String) async throws {
        guard let folder = ProcessInfo.processInfo.environment["MOONFLOW_CONSOLE_SCREENSHOTS"], !folder.isEmpty else { return }
        let image = try await Self.call(base + "/session/\(session)/screenshot", "GET")
        guard let data = Data(base64Encoded: image.stringValue ?? "") else { return }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: folder).appendingPathComponent("\(name).png"))
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
        let text = String(buffer: try await response.body.collect(upTo: 32 << 20))
        let value = try Value(json: Array(text.utf8))
        guard response.status.code == 200 else { throw RawError("webdriver \(method) \(url): \(response.status.code) \(text.prefix(500))") }
        return value["value"] ?? .null
    }
}
