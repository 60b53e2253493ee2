package import OrderedCollections

/// A text of `moonflow.yaml`'s `connections` that may hold `${ secrets.NAME }` references
/// (docs/integrations.md). The references are resolved once, when the runtime starts; the value
/// never reaches a journal, a log or a script.
package struct SecretText: Sendable, Hashable, CustomStringConvertible {
    package enum Part: Sendable, Hashable {
        case literal(String)
        case secret(String)
    }

    package var parts: [Part]

    package init(_ parts: [Part]) { self.parts = parts }
    package init(literal: String) { self.parts = [.literal(literal)] }

    /// The secrets it names, in order of appearance.
    package var secretNames: [String] {
        parts.compactMap { if case .secret(let name) = $0 { name } else { nil } }
    }

    /// The text with every reference replaced by its value; `nil` names the first missing secret.
    package func resolved(_ secrets: [String: String]) -> Result<String, MissingSecret> {
        var text = ""
        for part in parts {
            switch part {
            case .literal(let literal): text += literal
            case .secret(let name):
                guard let value = secrets[name] else { return .failure(MissingSecret(name: name)) }
                text += value
            }
        }
        return .success(text)
    }

    /// The text as written, references shown by name and never by value.
    package var description: String {
        parts.map { part in
            switch part {
            case .literal(let text): text
            case .secret(let name): "${ secrets.\(name) }"
            }
        }.joined()
    }
}

/// A secret a connection names and neither the environment nor the secrets file defines.
package struct MissingSecret: Error, Sendable, Hashable, CustomStringConvertible {
    package var name: String
    package init(name: String) { self.name = name }
    package var description: String { "secret '\(name)' is not defined" }
}

/// How a connection authenticates its requests.
package enum ConnectionAuth: Sendable, Hashable {
    /// `Authorization: Bearer <token>`.
    case bearer(SecretText)
    /// `Authorization: Basic base64(user:password)`.
    case basic(user: SecretText, password: SecretText)
    /// One header of the connection's choosing (`X-Api-Key: …`).
    case header(name: String, value: SecretText)
    /// OAuth 2 client credentials: a token from `tokenURL`, cached until it expires.
    case oauth2(tokenURL: String, clientID: SecretText, clientSecret: SecretText, scope: String?)

    /// The secrets it names.
    package var secretNames: [String] {
        switch self {
        case .bearer(let token): token.secretNames
        case .basic(let user, let password): user.secretNames + password.secretNames
        case .header(_, let value): value.secretNames
        case .oauth2(_, let id, let secret, _): id.secretNames + secret.secretNames
        }
    }
}

/// A named service activities call (`moonflow.yaml`'s `connections`, docs/integrations.md).
package struct Connection: Sendable, Hashable {
    /// The largest `timeout` accepted.
    package static let maxTimeout: Duration = .seconds(300)

    package var name: String
    /// The base URL requests give a path relative to (`http` or `https`).
    package var url: String
    package var auth: ConnectionAuth?
    /// Sent with every request, after the request's own headers are merged in.
    package var headers: OrderedDictionary<String, SecretText>
    /// The whole request, redirects included.
    package var timeout: Duration
    package var connectTimeout: Duration
    /// Bytes of a response body after decompression.
    package var maxResponseSize: Int
    /// The hosts a request or a redirect may reach; empty means the url's host only.
    package var allowedHosts: [String]
    /// Loopback, private, link-local, CGNAT and metadata addresses are refused unless true.
    package var allowPrivateNetwork: Bool
    /// The longest wait a server's `Retry-After` can impose.
    package var retryAfterMax: Duration
    @IgnoredInEquality package var location: SourceLocation

    package init(
        name: String, url: String, auth: ConnectionAuth? = nil, headers: OrderedDictionary<String, SecretText> = [:],
        timeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(3), maxResponseSize: Int = 1 << 20,
        allowedHosts: [String] = [], allowPrivateNetwork: Bool = false, retryAfterMax: Duration = .seconds(60),
        location: SourceLocation = .unknown
    ) {
        self.name = name
        self.url = url
        self.auth = auth
        self.headers = headers
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.maxResponseSize = maxResponseSize
        self.allowedHosts = allowedHosts
        self.allowPrivateNetwork = allowPrivateNetwork
        self.retryAfterMax = retryAfterMax
        self.location = location
    }

    /// Every secret the connection names, each once, in order of appearance.
    package var secretNames: [String] {
        var names = auth?.secretNames ?? []
        for text in headers.values { names += text.secretNames }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
