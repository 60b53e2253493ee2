import Foundation
import MoonflowModel
import Testing

/// While `moonflow serve` owns the project's SQLite store, the `runs` commands go through its API:
/// the server writes its address and a local admin token to `.moonflow/server.json` (mode 0600)
/// and removes it when it stops; `--server URL --token T` names a server explicitly.
@Suite(.timeLimit(.minutes(2))) struct ThroughServerTests {
    static let token = "operator-token-0123456789"

    @Test func theCLIGoesThroughARunningServer() async throws {
        let project = try CLIProject(files: [
            "workflows/steps.yaml": DebugCommandTests.steps,
            "moonflow.yaml": "auth:\n  tokens:\n    - {token_sha256: e4ba15bc7411be319ad18f683da1ff6968143f09f0fac67e517a5d6f526598c1, role: operator}\n",
        ])
        let path = project.url.path
        #expect(try await CLIRunner.run(["run", "steps", "--run-id", "r1", "--break-before", "b", "--project", path]).status == 3)

        let serve = Process()
        serve.executableURL = CLIRunner.binary
        serve.arguments = ["serve", "--port", "0", "--project", path]
        serve.standardOutput = FileHandle.nullDevice
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        let watchdog = Watchdog(pid: serve.processIdentifier, after: 90)
        defer {
            kill(serve.processIdentifier, SIGTERM)
            serve.waitUntilExit()
            _ = watchdog.stop()
        }
        let file = project.url.appendingPathComponent(".moonflow/server.json")
        let deadline = ContinuousClock.now + .seconds(60)
        while !FileManager.default.fileExists(atPath: file.path), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let server = try Value(json: String(decoding: try Data(contentsOf: file), as: UTF8.self))
        let url = try #require(server["url"]?.stringValue)
        #expect(server["token"]?.stringValue?.count == 64)

        // The store is the server's: these go through its API by themselves.
        let list = try await CLIRunner.run(["runs", "list", "--project", path, "--format", "json"])
        #expect(list.status == 0, "\(list.stdout)\(list.stderr)")
        #expect(try Value(json: list.stdout).arrayValue?.first?["status"] == "paused")
        let done = try await CLIRunner.run(["runs", "continue", "r1", "--project", path, "--format", "json"])
        #expect(done.status == 0, "\(done.stdout)\(done.stderr)")
        #expect(try Value(json: done.stdout)["status"] == "completed")
        let shown = try await CLIRunner.run(["runs", "show", "r1", "--project", path])
        #expect(shown.status == 0 && shown.stdout.contains("run r1  workflow steps  completed"), "\(shown.stdout)")
        let logs = try await CLIRunner.run(["runs", "logs", "r1", "--level", "warn", "--project", path, "--format", "json"])
        #expect(try Value(json: logs.stdout).arrayValue?.map { $0["message"] } == ["b adds ten"])
        let refused = try await CLIRunner.run(["runs", "pause", "r1", "--project", path])
        #expect(refused.status == 2 && refused.stderr.contains("only a running or waiting run"), "\(refused.stderr)")

        // Explicitly, with a token of the configuration; a wrong one is refused.
        let explicit = try await CLIRunner.run(["runs", "show", "r1", "--server", url, "--token", Self.token, "--format", "json"])
        #expect(explicit.status == 0)
        #expect(try Value(json: explicit.stdout)["output"] == ["n": 3])
        #expect(try await CLIRunner.run(["runs", "show", "r1", "--server", url, "--token", "wrong"]).status == 1)

        kill(serve.processIdentifier, SIGTERM)
        serve.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: file.path))
        // The store is free again: the commands act on it in this process.
        #expect(try await CLIRunner.run(["runs", "show", "r1", "--project", path]).status == 0)
    }
}
