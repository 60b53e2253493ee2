import Foundation
import Hummingbird
import MoonflowModel
import Synchronization

/// Which `Host` and `Origin` headers a request may carry, so that a page of another site can
/// neither call the API from a visitor's browser (a foreign `Origin`) nor reach it through a
/// name it controls (DNS rebinding: its own name resolving to 127.0.0.1, so the browser sends
/// that name as `Host`). It applies in every mode, `--insecure-no-auth` included, where the
/// browser's own connection is the only credential.
///
/// A `Host` is accepted when its port is the port the server listens on and its name is the
/// address the server binds, a loopback name or address when it binds loopback, any IP address
/// when it binds every interface (`0.0.0.0`, `::`), or a name of `allowedHosts` (`name` for any
/// port, `name:port` for one). DNS rebinding needs a name, never an IP address. An `Origin` is
/// accepted when it is `http(s)://` plus the request's own `Host`, or one of `allowedOrigins`.
final class HostPolicy: Sendable {
    let bindHost: String
    let allowedHosts: [Authority]
    let allowedOrigins: Set<String>
    /// The port the server listens on, known once it is bound (`--port 0` picks one).
    private let port = Atomic<Int>(0)

    init(bindHost: String, port: Int, allowedHosts: [String], allowedOrigins: [String]) {
        self.bindHost = Authority.normalise(bindHost)
        self.allowedHosts = allowedHosts.compactMap(Authority.init(parsing:))
        self.allowedOrigins = Set(allowedOrigins.map { $0.lowercased().trimmingSuffix("/") })
        self.port.store(port, ordering: .relaxed)
    }

    func listening(on port: Int) { self.port.store(port, ordering: .relaxed) }

    /// `host[:port]` of a request's `Host` header.
    struct Authority: Sendable, Hashable {
        /// Lowercased, without the brackets of an IPv6 address.
        var host: String
        var port: Int?

        init(host: String, port: Int?) {
            self.host = host
            self.port = port
        }

        init?(parsing text: String) {
            let text = text.lowercased()
            guard !text.isEmpty, !text.contains(where: { $0 == "/" || $0 == "@" || $0 == " " || $0 == "\\" }) else { return nil }
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]") else { return nil }
                host = String(text[text.index(after: text.startIndex)..<close])
                let rest = text[text.index(after: close)...]
                if rest.isEmpty {
                    port = nil
                } else {
                    guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()), (0...65535).contains(number) else { return nil }
                    port = number
                }
                return
            }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            switch parts.count {
            case 1:
                host = text
                port = nil
            case 2:
                guard let number = Int(parts[1]), (0...65535).contains(number), !parts[0].isEmpty else { return nil }
                host = String(parts[0])
                port = number
            default:
                return nil
            }
        }

        static func normalise(_ host: String) -> String {
            var host = host.lowercased()
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return host
        }

        var isIPAddress: Bool { Self.isIPv4(host) || Self.isIPv6(host) }

        static func isIPv4(_ text: String) -> Bool {
            var address = in_addr()
            return inet_pton(AF_INET, text, &address) == 1
        }

        static func isIPv6(_ text: String) -> Bool {
            var address = in6_addr()
            return inet_pton(AF_INET6, text, &address) == 1
        }

        static func isLoopback(_ host: String) -> Bool {
            host == "localhost" || host == "::1" || (isIPv4(host) && host.hasPrefix("127."))
        }
    }

    /// Whether a request's `Host` names this server.
    func allows(host text: String?) -> Bool {
        guard let text, let authority = Authority(parsing: text) else { return false }
        for allowed in allowedHosts where allowed.host == authority.host {
            if allowed.port == nil || allowed.port == (authority.port ?? 80) { return true }
        }
        guard (authority.port ?? 80) == port.load(ordering: .relaxed) else { return false }
        if authority.host == bindHost { return true }
        if Authority.isLoopback(bindHost) { return Authority.isLoopback(authority.host) }
        if bindHost == "0.0.0.0" || bindHost == "::" || bindHost.isEmpty { return authority.isIPAddress || authority.host == "localhost" }
        return false
    }

    /// Whether a request's `Origin` is this server itself (the web console it serves) or an allowed one.
    func allows(origin: String, host: String) -> Bool {
        let origin = origin.lowercased()
        if allowedOrigins.contains(origin.trimmingSuffix("/")) { return true }
        for (scheme, defaultPort) in [("http://", 80), ("https://", 443)] where origin.hasPrefix(scheme) {
            guard let from = Authority(parsing: String(origin.dropFirst(scheme.count))), let to = Authority(parsing: host) else { return false }
            return from.host == to.host && (from.port ?? defaultPort) == (to.port ?? defaultPort)
        }
        return false
    }
}

/// Refuses, before authentication and in every mode, what a browser on another site could send
/// (docs/api.md, requests from browsers): a `Host` that does not name this server (403 `ForbiddenHost`), a foreign `Origin`
/// (403 `ForbiddenOrigin`), and a body that is not `Content-Type: application/json` (415
/// `UnsupportedMediaType`) — a cross-site form or `fetch` in `no-cors` mode can only send
/// `text/plain`, form-encoded or multipart bodies without asking the server first. `/health`
/// answers whatever the `Host`, as load balancers probe it by address.
struct RequestGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: HostPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path != "/health" {
            // HTTP/1 puts the first `Host` into the authority; a second one stays a field.
            guard policy.allows(host: request.head.authority), request.headers[values: .init("Host")!].isEmpty else {
                throw APIError(
                    .forbidden, "ForbiddenHost",
                    "the Host header must name this server (its address, or a name given with --allowed-host)")
            }
            let origins = request.headers[values: .origin]
            if !origins.isEmpty {
                guard origins.count == 1, let host = request.head.authority, policy.allows(origin: origins[0], host: host) else {
                    throw APIError(
                        .forbidden, "ForbiddenOrigin",
                        "requests from another origin are refused (allow one with --allowed-origin)")
                }
            }
        }
        let announcesBody = HTTPFieldValue.announcesBody(
            contentLength: request.headers[.contentLength], transferEncoding: request.headers[.transferEncoding])
        if announcesBody, !Self.isJSON(request.headers[.contentType]) {
            throw APIError(
                .unsupportedMediaType, "UnsupportedMediaType", "a request body must be sent with Content-Type: application/json",
                details: ["content_type": request.headers[.contentType].map(Value.string) ?? .null])
        }
        return try await next(request, context)
    }

    /// `application/json`, with parameters (`; charset=utf-8`) or not, in any case.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return HTTPFieldValue.trimmed(mediaType).lowercased() == "application/json"
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
