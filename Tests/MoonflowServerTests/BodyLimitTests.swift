import Foundation
import MoonflowModel
import Testing

@testable import MoonflowServer

/// Issue 13, item 13: a body over the limit is a 413 in the API's error shape — announced by its
/// `Content-Length` or found while reading a chunked one — and `Expect: 100-continue` is answered:
/// `100 Continue` for a body that may come, a 413 at once (without reading) for one too large.
/// Raw sockets, because an HTTP client library hides the interim answer and the framing.
@Suite("Request bodies over the limit: 413; Expect: 100-continue", .timeLimit(.minutes(1)))
struct BodyLimitTests {
    static let limit = RequestBodyLimit.maxBytes

    static func head(port: Int, _ fields: [String]) -> String {
        (["POST /v1/runs HTTP/1.1", "Host: 127.0.0.1:\(port)", "Authorization: Bearer \(Tokens.admin)", "Content-Type: application/json"]
            + fields + ["", ""]).joined(separator: "\r\n")
    }

    /// A start whose body is `size` bytes: the `hello` workflow with a long name.
    static func body(size: Int) -> String {
        let frame = #"{"workflow": "hello", "input": {"name": ""}}"#
        return #"{"workflow": "hello", "input": {"name": ""# + String(repeating: "a", count: size - frame.utf8.count) + #""}}"#
    }

    static func expectTooLarge(_ answer: RawAnswer, contentLength: Int?) {
        #expect(answer.status == 413, "\(answer)")
        #expect(answer.header("Content-Type") == "application/json; charset=utf-8")
        #expect(answer.header("Connection") == "close")
        let error = (try? Value(json: answer.body))?["error"]
        #expect(error?["type"] == "ContentTooLarge", "\(answer.body)")
        #expect(error?["details"]?["limit"] == .int(Int64(limit)))
        #expect(error?["details"]?["content_length"] == contentLength.map { .int(Int64($0)) })
    }

    @Test func aBodyOverTheLimitIsA413AndTheConnectionEnds() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let body = Self.body(size: Self.limit + 1)
            let connection = try RawConnection(port: client.port)
            try connection.send(Self.head(port: client.port, ["Content-Length: \(body.utf8.count)"]) + body)
            Self.expectTooLarge(await connection.readAnswer(), contentLength: body.utf8.count)
            #expect(await connection.isClosedByPeer(within: .seconds(5)))
            // One at the limit is read.
            let fits = try await client.send(.POST, "/v1/runs", body: Self.body(size: Self.limit))
            #expect(fits.status == 201, "\(fits.text.prefix(200))")
        }
    }

    @Test func aChunkedBodyOverTheLimitIsA413() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let body = Self.body(size: 2 * Self.limit)
            var chunked = ""
            var rest = Substring(body)
            while !rest.isEmpty {
                let chunk = rest.prefix(65536)
                chunked += String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n"
                rest = rest.dropFirst(chunk.count)
            }
            let connection = try RawConnection(port: client.port)
            try connection.send(Self.head(port: client.port, ["Transfer-Encoding: chunked"]))
            // Sent from a thread of its own: the server may answer (and stop reading) before the end.
            let sender = Task.detached { try? connection.send(chunked + "0\r\n\r\n") }
            Self.expectTooLarge(await connection.readAnswer(), contentLength: nil)
            _ = await sender.value
            #expect(try await client.get("/v1/runs?workflow=hello").json["runs"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func expectContinueGetsA100ThenTheAnswer() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let body = #"{"workflow": "hello", "run_id": "continued"}"#
            let connection = try RawConnection(port: client.port)
            try connection.send(Self.head(port: client.port, ["Content-Length: \(body.utf8.count)", "Expect: 100-continue"]))
            let interim = await connection.readAvailable(within: .seconds(2))
            #expect(interim.hasPrefix("HTTP/1.1 100 Continue\r\n"), "\(interim)")
            try connection.send(body)
            let answer = await connection.readAnswer()
            #expect(answer.status == 201, "\(answer)")
            #expect((try? Value(json: answer.body))?["run_id"] == "continued")
        }
    }

    @Test func expectContinueOverTheLimitIsA413WithoutSendingTheBody() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let connection = try RawConnection(port: client.port)
            let start = ContinuousClock.now
            try connection.send(Self.head(port: client.port, ["Content-Length: \(10 * Self.limit)", "Expect: 100-continue"]))
            let answer = await connection.readAnswer()
            #expect(ContinuousClock.now - start < .seconds(3))
            Self.expectTooLarge(answer, contentLength: 10 * Self.limit)
            #expect(await connection.isClosedByPeer(within: .seconds(5)))
        }
    }

    /// A `100` belongs to its own request: it follows the answers of requests pipelined before it.
    @Test func aPipelinedContinueWaitsForTheAnswersBeforeIt() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let body = #"{"workflow": "hello", "run_id": "pipelined"}"#
            let connection = try RawConnection(port: client.port)
            try connection.send(
                "GET /v1/workflows HTTP/1.1\r\nHost: 127.0.0.1:\(client.port)\r\nAuthorization: Bearer \(Tokens.admin)\r\n\r\n"
                    + Self.head(port: client.port, ["Content-Length: \(body.utf8.count)", "Expect: 100-continue"]))
            let first = await connection.readAnswer()
            #expect(first.status == 200, "\(first)")
            #expect((try? Value(json: first.body))?["workflows"] != nil, "\(first.body.prefix(200))")
            #expect(await connection.readHead().status == 100)
            try connection.send(body)
            #expect(await connection.readAnswer().status == 201)
        }
    }
}
