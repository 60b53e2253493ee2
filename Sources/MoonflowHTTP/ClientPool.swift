import AsyncHTTPClient
import NIOCore
import NIOHTTPCompression
import NIOPosix
import Synchronization

/// The process's HTTP clients, one per connect timeout and checked address. A client pins the
/// address a host name was checked at (`dnsOverride`), so it is shared only by requests to that
/// host at that address; its connections are pooled and reused. Clients live as long as the
/// process (like `HTTPClient.shared`); past `capacity` the oldest is shut down.
final class ClientPool: Sendable {
    static let shared = ClientPool()

    struct Key: Hashable {
        var connectTimeout: Duration
        var target: Egress.Target
    }

    /// Event loops of their own: the server's loops (the NIO singleton) may be busy with its
    /// requests, and a busy loop would delay an outbound request and its cancellation alike.
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    private let clients = Mutex<(byKey: [Key: HTTPClient], order: [Key])>(([:], []))
    private let capacity = 64

    func client(for key: Key) -> HTTPClient {
        let (client, evicted) = clients.withLock { state -> (HTTPClient, HTTPClient?) in
            if let existing = state.byKey[key] { return (existing, nil) }
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .disallow, timeout: .init(connect: TimeAmount(key.connectTimeout)),
                decompression: .enabled(limit: .none))
            configuration.connectionPool.idleTimeout = .seconds(60)
            // A refused connection fails the request at once: the activity's retry policy decides
            // what happens next, not a retry loop hidden in the client until the connect timeout.
            configuration.connectionPool.retryConnectionEstablishment = false
            if let address = key.target.address { configuration.dnsOverride = [key.target.host: address] }
            // One loop per client: its connections, requests and deadlines are on the loop a
            // request is handed to (`EventLoopRequest`), never on the other.
            let client = HTTPClient(eventLoopGroup: group.next(), configuration: configuration)
            state.byKey[key] = client
            state.order.append(key)
            var evicted: HTTPClient?
            if state.order.count > capacity {
                let oldest = state.order.removeFirst()
                evicted = state.byKey.removeValue(forKey: oldest)
            }
            return (client, evicted)
        }
        if let evicted { Task { try? await evicted.shutdown() } }
        return client
    }
}
