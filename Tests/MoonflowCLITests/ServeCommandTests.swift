import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("moonflow serve")
struct ServeCommandTests {
    @Test func insecureModeIsRefusedOffLoopback() async throws {
        let result = try await CLIRunner.run(["serve", "--host", "0.0.0.0", "--insecure-no-auth"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("only allowed on a loopback address"))
    }

    @Test func noTokensAndNoFlagIsRefused() async throws {
        let result = try await CLIRunner.run(["serve", "--port", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no API tokens are configured"))
    }

    @Test func servesTheExampleProjectAndStopsOnSIGTERM() async throws {
        let port = 20_000 + Int(ProcessInfo.processInfo.processIdentifier % 20_000)
        let process = Process()
        process.executableURL = CLIRunner.binary
        // Its own store: this server stays up while other tests run `moonflow` in the repository,
        // and a store file has a single owner.
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString).db").path
        process.arguments = ["serve", "--insecure-no-auth", "--port", "\(port)", "--store", store]
        process.currentDirectoryURL = CLIRunner.repositoryRoot
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        var health: String?
        // Generous: beside the whole suite (PostgreSQL clusters, the three-process test) a debug
        // server took 48 s to answer once; alone it answers in a fraction of a second.
        let deadline = ContinuousClock.now + .seconds(90)
        while health == nil, ContinuousClock.now < deadline {
            if let (data, _) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health")!) {
                health = String(decoding: data, as: UTF8.self)
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(health == #"{"status":"ok"}"#)
        kill(process.processIdentifier, SIGTERM)
        let watchdog = Watchdog(pid: process.processIdentifier, after: 60)
        process.waitUntilExit()
        #expect(!watchdog.stop(), "serve did not stop within 60 s of SIGTERM")
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }
}
