import AsyncHTTPClient
import Foundation
import MoonflowModel
import NIOCore
import Testing

@testable import MoonflowServer

/// Issue 12, item 19: another site's page must not be able to drive the API through a visitor's
/// browser — not with a `text/plain` "simple" request, not from a foreign `Origin`, not through
/// a name of its own resolving to 127.0.0.1 (DNS rebinding) — in every mode.
@Suite("Content-Type, Origin and Host are checked in every mode", .timeLimit(.minutes(1)))
struct RequestGuardTests {
    static let start = #"{"workflow": "hello", "input": {"name": "csrf"}}"#

    @Test(arguments: [true, false])
    func crossSiteRequestsAreRefused(insecure: Bool) async throws {
        try await TestServer.run(Fixtures.project, insecure: insecure) { client in
            let port = client.port
            let auth: [(String, String)] = insecure ? [] : [("Authorization", "Bearer \(Tokens.admin)")]
            let host = ("Host", "127.0.0.1:\(port)")

            // What a cross-site <form> or `fetch(…, {mode: "no-cors"})` can send: 415, nothing started.
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                let answer = try await Self.post(client, headers: [("Content-Type", type)] + auth)
                #expect(answer.status == 415, "\(type): \(answer)")
                #expect(answer.text.contains("UnsupportedMediaType"))
            }
            let untyped = try await Self.post(client, headers: auth)
            #expect(untyped.status == 415)

            // A foreign Origin, even with a JSON body (and a token): 403.
            for origin in ["http://evil.example", "null", "http://127.0.0.1:\(port + 1)", "https://127.0.0.1.evil.example"] {
                let answer = try await Self.post(client, headers: [("Origin", origin), ("Content-Type", "application/json")] + auth)
                #expect(answer.status == 403, "\(origin)")
                #expect(answer.text.contains("ForbiddenOrigin"), "\(origin)")
            }
            // DNS rebinding: the attacker's name resolves to 127.0.0.1, the browser sends that name.
            for name in ["evil.example:\(port)", "evil.example", "localhost.evil.example:\(port)", "127.0.0.1:\(port + 1)"] {
                let read = try await RawConnection.request(port: port, "GET", "/v1/workflows", headers: [("Host", name)] + auth)
                #expect(read.status == 403, "\(name)")
                #expect(read.text.contains("ForbiddenHost"), "\(name)")
                let write = try await RawConnection.request(
                    port: port, "POST", "/v1/runs", headers: [("Host", name), ("Content-Type", "application/json")] + auth, body: Self.start)
                #expect(write.status == 403, "\(name)")
            }
            #expect(try await client.get("/v1/runs?workflow=hello").json["runs"]?.arrayValue?.isEmpty == true)

            // The page's own requests, and local clients by address or name, still work.
            let same = try await Self.post(
                client, headers: [("Origin", "http://127.0.0.1:\(port)"), ("Content-Type", "application/json; charset=utf-8")] + auth)
            #expect(same.status == 201)
            for name in ["localhost:\(port)", "[::1]:\(port)", "127.0.0.1:\(port)"] {
                #expect(try await RawConnection.request(port: port, "GET", "/v1/workflows", headers: [("Host", name)] + auth).status == 200, "\(name)")
            }
            // `/health` answers whatever the Host (load balancers probe it by address).
            #expect(try await RawConnection.request(port: port, "GET", "/health", headers: [("Host", "evil.example")]).status == 200)
            // A POST without a body needs no Content-Type.
            #expect(try await RawConnection.request(port: port, "POST", "/v1/reload", headers: [host, ("Content-Length", "0")] + auth).status == 200)
        }
    }

    /// `POST /v1/runs` with exactly these headers (and no others a client library would add).
    static func post(_ client: Client, headers: [(String, String)]) async throws -> Answer {
        var request = HTTPClientRequest(url: client.base + "/v1/runs")
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: start))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return Answer(status: Int(response.status.code), text: String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func hostPolicyRules() {
        let loopback = HostPolicy(bindHost: "127.0.0.1", port: 8080, allowedHosts: ["moonflow.internal", "proxy.example:443"], allowedOrigins: ["https://console.example"])
        #expect(loopback.allows(host: "127.0.0.1:8080"))
        #expect(loopback.allows(host: "LOCALHOST:8080"))
        #expect(!loopback.allows(host: "127.0.0.1"))  // port 80
        #expect(!loopback.allows(host: "10.0.0.1:8080"))
        #expect(!loopback.allows(host: nil))
        #expect(!loopback.allows(host: "a@127.0.0.1:8080"))
        #expect(loopback.allows(host: "moonflow.internal"))
        #expect(loopback.allows(host: "moonflow.internal:9999"))
        #expect(loopback.allows(host: "proxy.example:443"))
        #expect(!loopback.allows(host: "proxy.example:80"))
        #expect(loopback.allows(origin: "http://localhost:8080", host: "localhost:8080"))
        #expect(!loopback.allows(origin: "http://localhost:8080", host: "127.0.0.1:8080"))
        #expect(loopback.allows(origin: "https://console.example/", host: "127.0.0.1:8080"))
        #expect(!loopback.allows(origin: "null", host: "127.0.0.1:8080"))

        let everywhere = HostPolicy(bindHost: "0.0.0.0", port: 8080, allowedHosts: [], allowedOrigins: [])
        #expect(everywhere.allows(host: "192.168.1.20:8080"))
        #expect(everywhere.allows(host: "[fe80::1]:8080"))
        #expect(!everywhere.allows(host: "attacker.example:8080"))
    }
}
