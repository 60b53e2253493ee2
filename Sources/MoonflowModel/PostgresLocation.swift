import Foundation

/// Where a PostgreSQL store is and how to connect to it (docs/scale-out.md): moonflow.yaml's
/// `store: {postgres: URL, password_env, pool_size, tls}` or `--store postgres://…`.
package struct PostgresLocation: Sendable, Hashable {
    /// Whether the connection is encrypted: `disable` (loopback, a private network), `prefer` (TLS
    /// when the server offers it), `require` (refuse a server without TLS; its certificate is verified).
    package enum TLS: String, Sendable, Hashable, CaseIterable {
        case disable, prefer, require
    }

    package var host: String
    package var port: Int
    package var user: String
    package var password: String?
    package var database: String
    package var tls: TLS
    /// The most connections one engine process opens.
    package var poolSize: Int

    package static let defaultPoolSize = 10
    package static let poolSizes = 2...1000

    /// Reads `postgres://user[:password]@host[:port]/database` (or `postgresql://`). A password in
    /// the URL wins over `password` (from `password_env`).
    package init(url: String, password: String? = nil, tls: TLS = .prefer, poolSize: Int = defaultPoolSize) throws(PostgresURLError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else { throw PostgresURLError(url: url, problem: "it is not a postgres://user[:password]@host[:port]/database URL") }
        guard let host = components.host, !host.isEmpty else { throw PostgresURLError(url: url, problem: "the host is missing") }
        guard let user = components.user, !user.isEmpty else { throw PostgresURLError(url: url, problem: "the user is missing") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresURLError(url: url, problem: "the database is missing (…/database)")
        }
        guard components.query == nil, components.fragment == nil else {
            throw PostgresURLError(url: url, problem: "parameters after '?' or '#' are not supported (use password_env, pool_size, tls)")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw PostgresURLError(url: url, problem: "the port must be 1…65535")
        }
        guard Self.poolSizes.contains(poolSize) else {
            throw PostgresURLError(url: url, problem: "pool_size must be \(Self.poolSizes.lowerBound)…\(Self.poolSizes.upperBound)")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 } ?? password
        self.database = database.removingPercentEncoding ?? database
        self.tls = tls
        self.poolSize = poolSize
    }

    /// Whether `text` names a PostgreSQL store rather than a file (`--store`).
    package static func isURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    /// The URL without its password, for messages and logs.
    package var displayURL: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}

/// A store URL that does not read. Its text never shows a password.
package struct PostgresURLError: Error, Sendable, Hashable, CustomStringConvertible {
    package var url: String
    package var problem: String
    package var description: String {
        // Only the scheme of a URL that may hold a password is shown.
        let shown = url.contains("@") ? (url.split(separator: ":", maxSplits: 1).first.map { "\($0)://…" } ?? "…") : url
        return "bad PostgreSQL store URL '\(SafeText.display(shown, limit: 200))': \(problem)"
    }
}
