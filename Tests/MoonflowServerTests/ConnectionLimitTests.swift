import Foundation
import MoonflowModel
import Testing

@testable import MoonflowServer

/// Issue 12, item 5: connections that only sit there (or send slowly) must not take the server's
/// descriptors, nor lock out `/health`; and a listing that fails for want of descriptors must not
/// read as "every workflow deleted".
@Suite("Connection limits and timeouts", .serialized, .timeLimit(.minutes(3)))
struct ConnectionLimitTests {
    @Test func idleConnectionsBeyondTheCapMakeRoomForNewRequests() async throws {
        let limits = ServerLimits(maxConnections: 64, idleTimeout: .seconds(20))
        try await TestServer.run(Fixtures.project, limits: limits) { client, _ in
            var silent: [RawConnection] = []
            for _ in 0..<300 { silent.append(try RawConnection(port: client.port)) }
            for _ in 0..<5 {
                let started = ContinuousClock.now
                #expect(try await RawConnection.request(port: client.port, "GET", "/health", headers: [("Host", "127.0.0.1:\(client.port)")]).status == 200)
                // Well inside the 20 s idle timeout that would otherwise free a slot; the bound
                // leaves room for a loaded machine.
                #expect(ContinuousClock.now - started < .seconds(8))
            }
            // The oldest silent connections were closed to admit the new ones (well before the
            // 20 s idle timeout would have closed them).
            #expect(await silent[0].isClosedByPeer(within: .seconds(8)))
            #expect(await silent[100].isClosedByPeer(within: .seconds(8)))
            withExtendedLifetime(silent) {}
        }
    }

    @Test func slowHeadersAndSlowBodiesAreCut() async throws {
        let limits = ServerLimits(idleTimeout: .seconds(1), requestTimeout: .seconds(1))
        try await TestServer.run(Fixtures.project, limits: limits) { client, _ in
            let silent = try RawConnection(port: client.port)
            let slowHead = try RawConnection(port: client.port)
            try slowHead.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1:\(client.port)\r\nX-Slow: ")
            let slowBody = try RawConnection(port: client.port)
            try slowBody.send(
                "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1:\(client.port)\r\nAuthorization: Bearer \(Tokens.admin)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"workflow\":")
            for connection in [silent, slowHead, slowBody] { #expect(await connection.isClosedByPeer(within: .seconds(4))) }
            #expect(try await client.get("/v1/runs?workflow=hello").json["runs"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func theCapMustFitTheDescriptorLimit() throws {
        #expect(throws: ServerSetupError.self) { try ServerLimits(maxConnections: 2000).connectionCap(descriptorLimit: 1024) }
        #expect(throws: ServerSetupError.self) { try ServerLimits().connectionCap(descriptorLimit: 256) }
        #expect(try ServerLimits().connectionCap(descriptorLimit: 1024) == 1024 - 256 - 32)
        #expect(try ServerLimits().connectionCap(descriptorLimit: 1 << 20) == ServerLimits.defaultMaxConnections)
    }

    /// The real `moonflow serve`, its descriptor limit lowered to 1,024, under 3,000 idle
    /// connections, with a schedule loaded: `/health` keeps answering, no workflow is removed,
    /// and the process lives on.
    @Test func theRealServerSurvivesThousandsOfIdleConnectionsUnderALowDescriptorLimit() async throws {
        let project = try TestServer.project([
            "workflows/hello.yaml": Fixtures.hello,
            "workflows/ticker.yaml": """
            workflow: ticker
            trigger:
              schedule: {cron: "* * * * *"}
            activities:
              - name: tick
                run: return {ok = true}
            """,
        ])
        defer { try? FileManager.default.removeItem(at: project) }
        let server = try ServeProcess(project: project, descriptorLimit: 1024)
        defer { server.stop() }
        let port = server.port
        try await server.waitUntilHealthy()

        var idle: [RawConnection] = []
        for _ in 0..<3000 { idle.append(try RawConnection(port: port, blocking: false)) }
        try await Task.sleep(for: .seconds(1))
        for round in 0..<5 {
            let started = ContinuousClock.now
            let health = try await RawConnection.request(port: port, "GET", "/health", headers: [("Host", "127.0.0.1:\(port)")])
            #expect(health.status == 200, "round \(round)")
            #expect(ContinuousClock.now - started < .seconds(3), "round \(round)")
            let workflows = try await RawConnection.request(port: port, "GET", "/v1/workflows", headers: [("Host", "127.0.0.1:\(port)")])
            let ids = (try? Value(json: Array(workflows.text.utf8)))?["workflows"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
            #expect(ids == ["hello", "ticker"], "round \(round): \(workflows.status) \(workflows.text.prefix(300))")
            try await Task.sleep(for: .milliseconds(400))
        }
        #expect(server.isRunning, "the server died: \(server.log())")
        idle.removeAll()
        try await Task.sleep(for: .milliseconds(500))
        let log = server.log()
        #expect(!log.contains("removed=[\""), "a reload removed workflows:\n\(log.suffix(2000))")
        #expect(server.isRunning)
    }
}

/// `moonflow serve --insecure-no-auth` as a child process, with `ulimit -n` lowered first.
final class ServeProcess: @unchecked Sendable {
    // @unchecked: the process and log file are set in `init` and only read afterwards.
    let process = Process()
    let port: Int
    let logFile: URL

    static var binary: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("moonflow")
    }

    init(project: URL, descriptorLimit: Int) throws {
        port = try Self.freePort()
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let store = project.appendingPathComponent("state.db").path
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", "ulimit -n \(descriptorLimit) && exec \"$0\" \"$@\"", Self.binary.path,
            "serve", "--project", project.path, "--insecure-no-auth", "--port", "\(port)", "--store", store,
        ]
        let log = try FileHandle(forWritingTo: logFile)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    func log() -> String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    func waitUntilHealthy() async throws {
        for _ in 0..<200 {
            if (try? await RawConnection.request(port: port, "GET", "/health"))?.status == 200 { return }
            guard process.isRunning else { throw RawError("serve exited: \(log())") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RawError("serve did not answer /health: \(log())")
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: logFile)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw RawError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
