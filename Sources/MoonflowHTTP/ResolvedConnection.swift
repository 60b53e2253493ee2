import Foundation
import MoonflowModel
import OrderedCollections

/// A connection of moonflow.yaml with its secrets in place, ready to build requests. It lives only
/// in memory, in the connector.
struct ResolvedConnection: Sendable {
    /// How a request authenticates.
    enum Auth: Sendable {
        case none
        /// A fixed header (`Authorization: Bearer …`, `Authorization: Basic …`, `X-Api-Key: …`).
        case header(name: String, value: String)
        /// A client-credentials token, fetched and cached by `OAuthTokens`.
        case oauth2(OAuthClient)
    }

    let connection: Connection
    let base: URLComponents
    let headers: [(String, String)]
    let auth: Auth
    /// The hosts a request or a redirect may reach: the url's and `allowed_hosts`.
    let allowedHosts: Set<String>

    var name: String { connection.name }
    var baseHost: String { base.host?.lowercased() ?? "" }

    init(_ connection: Connection, secrets: [String: String]) throws(MissingSecret) {
        self.connection = connection
        self.base = URLComponents(string: connection.url) ?? URLComponents()
        var headers: [(String, String)] = []
        for (name, text) in connection.headers { headers.append((name, try text.resolved(secrets).get())) }
        self.headers = headers
        switch connection.auth {
        case nil: auth = .none
        case .bearer(let token)?: auth = .header(name: "Authorization", value: "Bearer \(try token.resolved(secrets).get())")
        case .basic(let user, let password)?:
            let pair = "\(try user.resolved(secrets).get()):\(try password.resolved(secrets).get())"
            auth = .header(name: "Authorization", value: "Basic \(Data(pair.utf8).base64EncodedString())")
        case .header(let name, let value)?: auth = .header(name: name, value: try value.resolved(secrets).get())
        case .oauth2(let tokenURL, let id, let secret, let scope)?:
            auth = .oauth2(
                OAuthClient(
                    connection: connection.name, tokenURL: tokenURL, clientID: try id.resolved(secrets).get(),
                    clientSecret: try secret.resolved(secrets).get(), scope: scope))
        }
        var hosts = Set(connection.allowedHosts)
        if let host = base.host?.lowercased() { hosts.insert(host) }
        if case .oauth2(let client) = auth, let host = URLComponents(string: client.tokenURL)?.host?.lowercased() { hosts.insert(host) }
        self.allowedHosts = hosts
    }

    /// Credentials a request sends in another form than the secrets themselves (basic auth's
    /// base64), to be redacted like them.
    var derivedSecrets: [(value: String, name: String)] {
        guard case .basic = connection.auth, case .header(_, let value) = auth else { return [] }
        return [(String(value.dropFirst("Basic ".count)), "\(name).basic_auth")]
    }

    /// The url of `path` (relative to the connection's url) with `query` added.
    func url(path: String, query: OrderedDictionary<String, String>) -> URL? {
        var parts = base
        if !path.isEmpty {
            let (pathPart, queryPart) = path.firstIndex(of: "?").map { (String(path[..<$0]), String(path[path.index(after: $0)...])) } ?? (path, nil)
            var joined = parts.percentEncodedPath
            if joined.hasSuffix("/") { joined.removeLast() }
            let encoded = pathPart.addingPercentEncoding(withAllowedCharacters: Self.pathCharacters) ?? pathPart
            joined += encoded.hasPrefix("/") ? encoded : "/" + encoded
            parts.percentEncodedPath = joined
            if let queryPart, !queryPart.isEmpty {
                parts.percentEncodedQuery = [parts.percentEncodedQuery, queryPart].compactMap { $0 }.joined(separator: "&")
            }
        }
        if !query.isEmpty {
            parts.queryItems = (parts.queryItems ?? []) + query.map { URLQueryItem(name: $0.key, value: $0.value) }
            // `+` is a space to most servers: encode it so a value keeps it.
            parts.percentEncodedQuery = parts.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        }
        return parts.url
    }

    /// What a path may hold unencoded (its `%` escapes are kept as written).
    private static let pathCharacters = CharacterSet.urlPathAllowed.union(CharacterSet(charactersIn: "%"))
}
