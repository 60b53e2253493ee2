import Foundation
import MoonflowModel
import Testing

@testable import MoonflowHTTP

/// Where requests may go (docs/integrations.md, "Egress"), against real loopback services.
@Suite struct EgressTests {
    static let workflow = HTTPActivityTests.workflow("{connection: crm, path: /start}", retry: "{max_attempts: 3, initial: 10ms}")

    @Test func aPrivateAddressIsRefusedBeforeAnyPacket() async throws {
        let stub = try await ServiceStub.start { _ in .json("{}") }
        defer { Task { await stub.stop() } }
        // By address and by a name that resolves to it.
        for url in [stub.base, "http://localhost:\(stub.port)"] {
            let project = try HTTPProject(config: "connections: {crm: {url: '\(url)'}}", workflows: ["lead": Self.workflow])
            let report = try await project.run("lead", on: project.runtime())
            let entry = try #require(report.activity("create"))
            #expect(entry.error?.type == "EgressDenied" && entry.attempts == 1)
            #expect(entry.error?.message.contains("a loopback address (allow_private_network is false)") == true)
        }
        #expect(stub.connections == 0)
    }

    @Test func aRedirectIsCheckedAgainstTheAllowedHostsAtEveryHop() async throws {
        let other = try await ServiceStub.start(host: "127.0.0.2") { _ in .json(#"{"landed": true}"#) }
        defer { Task { await other.stop() } }
        let stub = try await ServiceStub.start { _ in ServiceStub.Response(status: 302, headers: [("Location", "\(other.base)/landing")]) }
        defer { Task { await stub.stop() } }
        let denied = try HTTPProject(config: HTTPActivityTests.config(stub), workflows: ["lead": Self.workflow])
        let report = try await denied.run("lead", on: denied.runtime())
        #expect(report.activity("create")?.error?.type == "EgressDenied")
        #expect(report.activity("create")?.error?.message.contains("host '127.0.0.2' is not allowed") == true)
        #expect(other.connections == 0)

        let allowed = try HTTPProject(
            config: HTTPActivityTests.config(stub).replacingOccurrences(of: "allow_private_network: true", with: "allow_private_network: true\n    allowed_hosts: [127.0.0.2]"),
            workflows: ["lead": Self.workflow])
        let followed = try await allowed.run("lead", on: allowed.runtime())
        #expect(followed.activity("create")?.output?["json"] == ["landed": true])
        #expect(other.requests.map(\.path) == ["/landing"])
    }

    @Test func atMostFiveRedirectsAreFollowed() async throws {
        let stub = try await ServiceStub.start { request in ServiceStub.Response(status: 307, headers: [("Location", request.path + "/again")]) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(config: HTTPActivityTests.config(stub), workflows: ["lead": HTTPActivityTests.workflow("{connection: crm}", retry: "{max_attempts: 1}")])
        let report = try await project.run("lead", on: project.runtime())
        #expect(report.activity("create")?.error?.type == "HttpError")
        #expect(report.activity("create")?.error?.details?["status"] == 307)
        #expect(stub.requests.count == 6)
    }

    @Test func aBodyOverTheCapIsResponseTooLargeAndNotRetried() async throws {
        let stub = try await ServiceStub.start { _ in .text(String(repeating: "x", count: 2 << 20)) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(config: HTTPActivityTests.config(stub), workflows: ["lead": Self.workflow])
        let report = try await project.run("lead", on: project.runtime())
        #expect(report.activity("create")?.error?.type == "ResponseTooLarge")
        #expect(report.activity("create")?.attempts == 1)
        let roomy = try HTTPProject(
            config: HTTPActivityTests.config(stub).replacingOccurrences(of: "allow_private_network: true", with: "allow_private_network: true\n    max_response_size: 3MB"),
            workflows: ["lead": Self.workflow])
        #expect(try await roomy.run("lead", on: roomy.runtime()).status == .completed)
    }

    @Test func theCapCountsTheBodyAfterDecompression() async throws {
        // 132 bytes of gzip on the wire, 100,000 bytes of "x" once inflated.
        let gzipped = Array(Data(base64Encoded: "H4sIAAAAAAACA+3BMQEAAADCoNqLbw0PoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIBXA3ERB/6ghgEA")!)
        let stub = try await ServiceStub.start { _ in
            ServiceStub.Response(status: 200, headers: [("Content-Type", "text/plain"), ("Content-Encoding", "gzip")], body: gzipped)
        }
        defer { Task { await stub.stop() } }
        let capped = try HTTPProject(
            config: HTTPActivityTests.config(stub).replacingOccurrences(of: "allow_private_network: true", with: "allow_private_network: true\n    max_response_size: 1KB"),
            workflows: ["lead": Self.workflow])
        #expect(try await capped.run("lead", on: capped.runtime()).activity("create")?.error?.type == "ResponseTooLarge")
        #expect(stub.requests.first?.header("Accept-Encoding")?.contains("gzip") == true)
        let roomy = try HTTPProject(config: HTTPActivityTests.config(stub), workflows: ["lead": Self.workflow])
        let body = try await roomy.run("lead", on: roomy.runtime()).activity("create")?.output?["body"]?.stringValue
        #expect(body == String(repeating: "x", count: 100_000))
    }

    @Test func credentialsStayWithTheConnectionsOwnHost() async throws {
        let other = try await ServiceStub.start(host: "127.0.0.2") { _ in .json("{}") }
        defer { Task { await other.stop() } }
        let stub = try await ServiceStub.start { _ in ServiceStub.Response(status: 307, headers: [("Location", "\(other.base)/next")]) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(
            config: """
                secrets: {env_prefix: S_}
                connections:
                  crm: {url: '\(stub.base)', auth: {bearer: "${ secrets.T }"}, allowed_hosts: [127.0.0.2], allow_private_network: true}
                """,
            workflows: ["lead": Self.workflow])
        #expect(try await project.run("lead", on: project.runtime(environment: ["S_T": "t0ken"])).status == .completed)
        #expect(stub.requests.first?.header("Authorization") == "Bearer t0ken")
        #expect(other.requests.count == 1 && other.requests.first?.header("Authorization") == nil)
        #expect(other.requests.first?.header("Idempotency-Key") == stub.requests.first?.header("Idempotency-Key"))
    }

    @Test func addressesAreClassified() {
        let kinds: [String: String?] = [
            "8.8.8.8": nil, "2001:4860:4860::8888": nil, "127.0.0.1": "loopback", "10.1.2.3": "private", "172.20.0.1": "private",
            "192.168.1.1": "private", "100.64.0.1": "CGNAT", "169.254.169.254": "metadata", "169.254.1.1": "link-local",
            "0.0.0.0": "unspecified", "::1": "loopback", "::": "unspecified", "fe80::1": "link-local", "fd00:ec2::254": "private",
            "::ffff:10.0.0.1": "private", "64:ff9b::a9fe:a9fe": "metadata", "224.0.0.1": "multicast or reserved", "100.100.100.200": "metadata",
        ]
        for (text, kind) in kinds {
            #expect(IPAddress(text)?.privateKind == kind, "\(text)")
        }
        #expect(IPAddress("crm.example.com") == nil)
        #expect(IPAddress("fd00:ec2::254")?.description == "fd00:ec2::254")
    }
}
