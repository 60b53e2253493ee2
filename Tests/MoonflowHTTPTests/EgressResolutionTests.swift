import Foundation
import MoonflowModel
import Synchronization
import Testing

@testable import MoonflowHTTP

/// How egress keeps a host's checked addresses (docs/integrations.md, "Egress"): one lookup per
/// host and `Egress.ttl`, every request still checked against its own connection's rules.
@Suite struct EgressResolutionTests {
    /// A resolver answering from a table, counting its lookups, and a clock the test moves.
    final class World: Sendable {
        let answers: Mutex<[String: [String]]>
        let lookups = Mutex<[String]>([])
        let elapsed = Mutex<Duration>(.zero)
        let start = ContinuousClock.now

        init(_ answers: [String: [String]]) { self.answers = Mutex(answers) }

        func egress() -> Egress {
            Egress(
                resolve: { host in
                    self.lookups.withLock { $0.append(host) }
                    return self.answers.withLock { $0[host] ?? [] }.compactMap { IPAddress($0) }
                },
                now: { self.start + self.elapsed.withLock { $0 } })
        }
    }

    static func connection(_ url: String, privateNetwork: Bool = false) throws -> ResolvedConnection {
        try ResolvedConnection(Connection(name: "crm", url: url, allowPrivateNetwork: privateNetwork), secrets: [:])
    }

    @Test func aHostIsLookedUpOnceUntilItsResolutionExpires() async throws {
        let world = World(["crm.example.com": ["93.184.216.34"]])
        let egress = world.egress()
        let connection = try Self.connection("https://crm.example.com/api")
        let url = try #require(URL(string: "https://crm.example.com/api/leads"))
        let first = try await egress.check(url, connection: connection)
        let second = try await egress.check(url, connection: connection)
        #expect(first == Egress.Target(host: "crm.example.com", address: "93.184.216.34") && second == first)
        #expect(world.lookups.withLock { $0 } == ["crm.example.com"])

        world.answers.withLock { $0["crm.example.com"] = ["93.184.216.35"] }
        world.elapsed.withLock { $0 = Egress.ttl + .milliseconds(1) }
        #expect(try await egress.check(url, connection: connection).address == "93.184.216.35")
        #expect(world.lookups.withLock { $0.count } == 2)
    }

    @Test func aKeptResolutionIsCheckedAgainstEveryConnectionsRules() async throws {
        let world = World(["svc.internal": ["10.0.0.5"]])
        let egress = world.egress()
        let url = try #require(URL(string: "http://svc.internal/ok"))
        let target = try await egress.check(url, connection: try Self.connection("http://svc.internal", privateNetwork: true))
        #expect(target.address == "10.0.0.5")
        await #expect {
            try await egress.check(url, connection: try Self.connection("http://svc.internal"))
        } throws: { error in
            (error as? ActivityFailure)?.type == .egressDenied
                && (error as? ActivityFailure)?.message.contains("resolves to 10.0.0.5, a private address") == true
        }
        #expect(world.lookups.withLock { $0.count } == 1)
    }

    @Test func aFailedLookupIsNotKept() async throws {
        let world = World([:])
        let egress = world.egress()
        let connection = try Self.connection("https://crm.example.com")
        let url = try #require(URL(string: "https://crm.example.com/"))
        await #expect { try await egress.check(url, connection: connection) } throws: { error in
            (error as? ActivityFailure)?.type == .httpConnectError
        }
        world.answers.withLock { $0["crm.example.com"] = ["93.184.216.34"] }
        #expect(try await egress.check(url, connection: connection).address == "93.184.216.34")
        #expect(world.lookups.withLock { $0.count } == 2)
    }

    @Test func anAddressIsNeverLookedUp() async throws {
        let world = World([:])
        let egress = world.egress()
        let target = try await egress.check(
            try #require(URL(string: "http://127.0.0.1:8080/ok")), connection: try Self.connection("http://127.0.0.1:8080", privateNetwork: true))
        #expect(target == Egress.Target(host: "127.0.0.1", address: nil))
        #expect(world.lookups.withLock { $0.isEmpty })
    }
}
