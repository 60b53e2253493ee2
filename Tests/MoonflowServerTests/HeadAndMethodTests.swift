import Foundation
import Logging
import MoonflowModel
import Testing

@testable import MoonflowServer

/// Issue 13, item 13: `HEAD` works wherever `GET` does (same status and headers, no body), and a
/// method a path is not served with is a 405 with `Allow` — unknown paths stay 404.
@Suite("HEAD wherever GET, 405 with Allow for other methods", .timeLimit(.minutes(1)))
struct HeadAndMethodTests {
    static func head(_ method: String, _ path: String, port: Int, token: String? = Tokens.admin) -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        if let token { text += "Authorization: Bearer \(token)\r\n" }
        return text + "\r\n"
    }

    /// The `GET` paths of every registered `GET` route, ids filled in with what `body` creates.
    static func getPaths(ids: [String: String]) throws -> [String] {
        try TestServer.router().routes.filter { $0.method == .get && "\($0.path)" != "/v1/events/stream" }.map { route in
            let path = "\(route.path)"
            let prefix = path.split(separator: "/").prefix(2).joined(separator: "/")
            return path.replacingOccurrences(of: "{id}", with: ids[prefix] ?? "none")
        }
    }

    /// Header fields that may differ between two answers to the same request.
    static func comparable(_ answer: RawAnswer) -> [String] {
        answer.headers.filter { $0.name.lowercased() != "date" }.map { "\($0.name.lowercased()): \($0.value)" }.sorted()
    }

    @Test func headAnswersAsGetWithoutABody() async throws {
        try await TestServer.run(Fixtures.project) { client in
            #expect(try await client.post("/v1/runs", ["workflow": "approval", "run_id": "approval-1"]).status == 201)
            _ = try await client.waitForStatus("approval-1", ["waiting"])
            let ids = ["v1/workflows": "approval", "v1/runs": "approval-1", "v1/tasks": "approval-1%3Aapprove%3A1"]
            let paths = try Self.getPaths(ids: ids) + ["/v1/runs/unknown", "/v1/nothing-here"]
            #expect(paths.count > 10)
            for path in paths {
                for token in [Tokens.admin, Tokens.alice, nil] {
                    // One connection for both: a body after the HEAD answer would be read as the GET's answer.
                    let connection = try RawConnection(port: client.port)
                    try connection.send(Self.head("HEAD", path, port: client.port, token: token))
                    let head = await connection.readHead()
                    #expect(await connection.readAvailable(within: .milliseconds(100)) == "", "HEAD \(path) sent a body")
                    try connection.send(Self.head("GET", path, port: client.port, token: token))
                    let get = await connection.readAnswer()
                    #expect(head.status == get.status, "HEAD \(path) (\(token ?? "no token"))")
                    #expect(Self.comparable(head) == Self.comparable(get), "HEAD \(path) (\(token ?? "no token"))")
                    #expect(get.body.utf8.count == Int(get.header("Content-Length") ?? "") ?? -1, "GET \(path)")
                }
            }
        }
    }

    @Test func headOfTheEventStreamAnswersAtOnce() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let connection = try RawConnection(port: client.port)
            let start = ContinuousClock.now
            try connection.send(Self.head("HEAD", "/v1/events/stream", port: client.port))
            let head = await connection.readHead()
            #expect(head.status == 200)
            #expect(head.header("Content-Type") == "text/event-stream")
            #expect(head.header("Content-Length") == nil)
            // Well before the stream's first keep-alive (15 s), which a HEAD held open would wait
            // for; the bound leaves room for a loaded machine.
            #expect(ContinuousClock.now - start < .seconds(8))
            #expect(await connection.readAvailable(within: .milliseconds(300)) == "")
            // The connection goes on.
            try connection.send(Self.head("GET", "/health", port: client.port))
            #expect(await connection.readAnswer().status == 200)
            // Without the permission, the same 403 as GET.
            let user = try RawConnection(port: client.port)
            try user.send(Self.head("HEAD", "/v1/events/stream", port: client.port, token: Tokens.alice))
            #expect(await user.readHead().status == 403)
        }
    }

    struct MethodCase: Sendable, CustomStringConvertible {
        var method: String
        var path: String
        var token: String?
        var status: Int
        var allow: String?
        var description: String { "\(method) \(path) \(token == nil ? "(no token)" : "")" }
    }

    static let methodCases: [MethodCase] = [
        MethodCase(method: "TRACE", path: "/v1/runs", token: Tokens.admin, status: 405, allow: "GET, HEAD, POST"),
        MethodCase(method: "PUT", path: "/v1/runs/hello-1", token: Tokens.admin, status: 405, allow: "GET, HEAD"),
        MethodCase(method: "DELETE", path: "/v1/tasks/x%3Aa%3A1", token: Tokens.admin, status: 405, allow: "GET, HEAD"),
        MethodCase(method: "PATCH", path: "/v1/runs/x/cancel", token: Tokens.admin, status: 405, allow: "POST"),
        MethodCase(method: "OPTIONS", path: "/v1/workflows", token: Tokens.admin, status: 405, allow: "GET, HEAD"),
        MethodCase(method: "PROPFIND", path: "/v1/events/stream", token: Tokens.admin, status: 405, allow: "GET, HEAD"),
        MethodCase(method: "GET", path: "/v1/events", token: Tokens.admin, status: 405, allow: "POST"),
        MethodCase(method: "GET", path: "/v1/reload", token: Tokens.admin, status: 405, allow: "POST"),
        MethodCase(method: "TRACE", path: "/health", token: nil, status: 405, allow: "GET, HEAD"),
        MethodCase(method: "TRACE", path: "/", token: nil, status: 405, allow: "GET, HEAD"),
        MethodCase(method: "DELETE", path: "/v1/nothing-here", token: Tokens.admin, status: 404, allow: nil),
        MethodCase(method: "TRACE", path: "/v1/runs/x/y/z", token: Tokens.admin, status: 404, allow: nil),
        // Authentication comes first, as for every path that is not public.
        MethodCase(method: "TRACE", path: "/v1/runs", token: nil, status: 401, allow: nil),
    ]

    @Test func otherMethodsAre405WithAllow() async throws {
        try await TestServer.run(Fixtures.project) { client in
            for test in Self.methodCases {
                let connection = try RawConnection(port: client.port)
                try connection.send(Self.head(test.method, test.path, port: client.port, token: test.token))
                let answer = await connection.readAnswer()
                #expect(answer.status == test.status, "\(test): \(answer)")
                #expect(answer.header("Allow") == test.allow, "\(test)")
                #expect(answer.header("Content-Type") == "application/json; charset=utf-8", "\(test)")
                if test.status == 405 {
                    let error = (try? Value(json: answer.body))?["error"]
                    #expect(error?["type"] == "MethodNotAllowed", "\(test): \(answer.body)")
                    #expect(error?["details"]?["allow"]?.arrayValue?.map { $0.stringValue ?? "" }.joined(separator: ", ") == test.allow)
                }
            }
        }
    }
}
