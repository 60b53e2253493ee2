import Foundation
import MoonflowModel
import Synchronization

/// Where a request may go (docs/integrations.md, "Egress"): a host the connection allows, over
/// http or https, to addresses that are all public unless the connection allows private networks.
/// The host is resolved here, every address checked, and the request connects to the address
/// checked: a name that resolves again to something else is never asked. A resolution is kept for
/// `ttl` (a connection's requests to one host make one lookup, not one each) and checked again by
/// every request, against its own connection's rules; an address literal needs no lookup.
final class Egress: Sendable {
    /// A checked destination: the address to connect to, for a host name.
    struct Target: Sendable, Hashable {
        var host: String
        /// `nil` when the host is an address itself.
        var address: String?
    }

    typealias Resolve = @Sendable (String) async -> [IPAddress]

    /// How long a host's addresses are used before it is resolved again.
    static let ttl: Duration = .seconds(5)
    /// Hosts kept at most; past it the cache starts again empty.
    static let capacity = 256

    private let resolve: Resolve
    private let now: @Sendable () -> ContinuousClock.Instant
    private let resolved = Mutex<[String: (addresses: [IPAddress], until: ContinuousClock.Instant)]>([:])

    init(resolve: @escaping Resolve = Egress.lookUp, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.resolve = resolve
        self.now = now
    }

    func check(_ url: URL, connection: ResolvedConnection) async throws(ActivityFailure) -> Target {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw denied("\(url.scheme ?? "a URL without a scheme") is not http or https", connection)
        }
        guard var host = url.host?.lowercased(), !host.isEmpty else { throw denied("the URL has no host", connection) }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard connection.allowedHosts.contains(host) else {
            throw denied("host '\(host)' is not allowed (allowed_hosts: \(connection.allowedHosts.sorted().joined(separator: ", ")))", connection)
        }
        if let literal = IPAddress(host) {
            if !connection.connection.allowPrivateNetwork, let kind = literal.privateKind {
                throw denied("\(host) is a \(kind) address (allow_private_network is false)", connection)
            }
            return Target(host: host, address: nil)
        }
        let addresses = await addresses(of: host)
        guard let first = addresses.first else {
            throw ActivityFailure(.httpConnectError, "cannot resolve host '\(host)' (connection '\(connection.name)')")
        }
        if !connection.connection.allowPrivateNetwork {
            for address in addresses {
                if let kind = address.privateKind {
                    throw denied("host '\(host)' resolves to \(address), a \(kind) address (allow_private_network is false)", connection)
                }
            }
        }
        return Target(host: host, address: first.description)
    }

    /// The addresses of `host`: kept ones within `ttl`, else a lookup (a failed one is not kept).
    private func addresses(of host: String) async -> [IPAddress] {
        let start = now()
        if let kept = resolved.withLock({ $0[host] }), kept.until > start { return kept.addresses }
        let addresses = await resolve(host)
        guard !addresses.isEmpty else { return addresses }
        resolved.withLock { cache in
            if cache.count >= Self.capacity { cache.removeAll() }
            cache[host] = (addresses, start + Self.ttl)
        }
        return addresses
    }

    private func denied(_ why: String, _ connection: ResolvedConnection) -> ActivityFailure {
        ActivityFailure(.egressDenied, "connection '\(connection.name)': \(why)", retryable: false)
    }

    /// Every address `host` resolves to (getaddrinfo, off the calling thread).
    @Sendable static func lookUp(_ host: String) async -> [IPAddress] {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_family = AF_UNSPEC
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var list: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host, nil, &hints, &list) == 0 else {
                    continuation.resume(returning: [])
                    return
                }
                defer { freeaddrinfo(list) }
                var addresses: [IPAddress] = []
                var cursor = list
                while let entry = cursor {
                    if let address = IPAddress(entry.pointee.ai_addr), !addresses.contains(address) { addresses.append(address) }
                    cursor = entry.pointee.ai_next
                }
                continuation.resume(returning: addresses)
            }
        }
    }
}

/// An IPv4 or IPv6 address and the ranges egress refuses.
struct IPAddress: Hashable, CustomStringConvertible {
    /// 4 or 16 bytes.
    let bytes: [UInt8]

    init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }

    init?(_ socketAddress: UnsafeMutablePointer<sockaddr>?) {
        guard let socketAddress else { return nil }
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            bytes = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
            }
        case AF_INET6:
            bytes = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
            }
        default:
            return nil
        }
    }

    var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What kind of non-public address this is; `nil` for a public one.
    var privateKind: String? {
        if bytes.count == 4 { return Self.v4Kind(bytes) }
        // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are their IPv4 address.
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff { return Self.v4Kind(Array(bytes[12...])) }
        if bytes[0..<12] == [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] { return Self.v4Kind(Array(bytes[12...])) }
        if bytes.allSatisfy({ $0 == 0 }) { return "unspecified" }
        if bytes[0..<15].allSatisfy({ $0 == 0 }), bytes[15] == 1 { return "loopback" }
        if bytes[0] == 0xfe, bytes[1] & 0xc0 == 0x80 { return "link-local" }
        if bytes[0] & 0xfe == 0xfc { return "private" }  // fc00::/7, AWS's metadata fd00:ec2::254 among them
        if bytes[0] == 0xff { return "multicast" }
        return nil
    }

    private static func v4Kind(_ b: [UInt8]) -> String? {
        switch (b[0], b[1]) {
        case (169, 254): return b[2] == 169 && b[3] == 254 ? "metadata" : "link-local"
        case (127, _): return "loopback"
        case (10, _), (192, 168): return "private"
        case (172, 16...31): return "private"
        case (100, 64...127): return b == [100, 100, 100, 200] ? "metadata" : "CGNAT"
        case (0, _): return "unspecified"
        case (192, 0) where b[2] == 0: return "private"
        case (198, 18...19): return "private"
        case (224...255, _): return "multicast or reserved"
        default: return nil
        }
    }
}
