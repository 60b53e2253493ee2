import AsyncHTTPClient
import Foundation
import MoonflowModel
import NIOCore
import NIOHTTP1

/// `.moonflow/server.json`: where a `moonflow serve` of this project listens and the admin token it
/// accepts from this machine's CLI, readable only by its user (mode 0600). Written once the server
/// listens, removed when it stops; a server that died leaves it behind, and its `pid` tells.
struct LocalServerFile {
    var url: String
    var token: String
    var pid: Int32

    static func location(project: URL) -> URL { project.appendingPathComponent(".moonflow/server.json") }

    /// A fresh token: 32 random bytes, hex.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Writes the file with mode 0600 from its creation (never readable by others, even briefly).
    func write(project: URL) throws {
        let file = Self.location(project: project)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let text: Value = ["url": .string(url), "token": .string(token), "pid": .int(Int64(pid))]
        unlink(file.path)
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: file.path]) }
        defer { close(descriptor) }
        let bytes = Array(text.jsonString().utf8)
        guard Foundation.write(descriptor, bytes, bytes.count) == bytes.count else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
        }
    }

    static func remove(project: URL) { unlink(location(project: project).path) }

    /// The file of a server that is alive; `nil` without one (or when its process is gone).
    static func read(project: URL) -> LocalServerFile? {
        guard let data = FileManager.default.contents(atPath: location(project: project).path), let value = try? Value(json: Array(data)),
            let url = value["url"]?.stringValue, let token = value["token"]?.stringValue, let pid = value["pid"]?.intValue
        else { return nil }
        guard kill(Int32(pid), 0) == 0 || errno == EPERM else { return nil }
        return LocalServerFile(url: url, token: token, pid: Int32(pid))
    }
}

/// The API of a running server, for the CLI commands that go through it (docs/cli.md, "Through a
/// running server").
struct RemoteServer: Sendable {
    let url: String
    let token: String

    struct Answer {
        var status: Int
        var body: Value
    }

    func send(_ method: HTTPMethod, _ path: String, _ body: Value? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: url.trimmingTrailingSlash + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.jsonString()))
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        } catch {
            printError("error: cannot reach the server at \(url): \(error)")
            throw MoonflowExit.failure
        }
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let text = String(buffer: bytes)
        return Answer(status: Int(response.status.code), body: (try? Value(json: text)) ?? .string(text))
    }

    /// `send`, an error answer told as the CLI tells errors: 2 for what the caller got wrong (an
    /// unknown run, a refused action, a bad argument), 1 otherwise.
    func call(_ method: HTTPMethod, _ path: String, _ body: Value? = nil) async throws -> Value {
        let answer = try await send(method, path, body)
        guard (200..<300).contains(answer.status) else {
            let message = answer.body["error"]?["message"]?.stringValue ?? answer.body.jsonString()
            printError("error: \(message)")
            throw [400, 404, 409, 422].contains(answer.status) ? MoonflowExit.usage : MoonflowExit.failure
        }
        return answer.body
    }

    /// A run's report once it ends, waits or pauses (the server drives it), within two minutes.
    func settledReport(_ runID: String) async throws -> Value {
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            let report = try await call(.GET, "/v1/runs/\(Self.segment(runID))/report")
            let status = report["status"]?.stringValue ?? ""
            if !["queued", "running", "compensating"].contains(status) || ContinuousClock.now > deadline { return report }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// An id as one path segment (a child run's id holds `/`).
    static func segment(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? id
    }
}

extension String {
    fileprivate var trimmingTrailingSlash: String { hasSuffix("/") ? String(dropLast()) : self }
}
