import Foundation
import MoonflowEngine
import MoonflowModel

/// Where and how the PostgreSQL store connects (docs/scale-out.md): `store: {postgres: URL,
/// password_env, pool_size, tls}` in moonflow.yaml, or `--store postgres://…`.
package struct PostgresStoreOptions: Sendable, Hashable {
    /// Whether the connection is encrypted: `disable` (loopback, a private network), `prefer` (TLS
    /// when the server offers it), `require` (refuse a server without TLS; the certificate is verified).
    package enum TLSMode: String, Sendable, Hashable, CaseIterable {
        case disable, prefer, require
    }

    package var host: String
    package var port: Int
    package var user: String
    package var password: String?
    package var database: String
    package var tls: TLSMode
    /// The most connections this process opens (at least 2: the writer and a reader).
    package var poolSize: Int
    /// The most event dead letters kept (at least 1); past it the oldest are dropped.
    package var deadLetterRetention: Int
    /// Set on every session of the engine: a transaction left open this long is ended by the server,
    /// so a stuck session cannot hold locks or hold back vacuum.
    package var idleInTransactionTimeout: Duration

    package static let defaultPoolSize = 10

    package init(
        host: String, port: Int = 5432, user: String, password: String? = nil, database: String, tls: TLSMode = .prefer,
        poolSize: Int = defaultPoolSize, deadLetterRetention: Int = EventDeadLetter.retentionLimit,
        idleInTransactionTimeout: Duration = .seconds(60)
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.poolSize = poolSize
        self.deadLetterRetention = deadLetterRetention
        self.idleInTransactionTimeout = idleInTransactionTimeout
    }

    /// Reads `postgres://user[:password]@host[:port]/database` (or `postgresql://`). A password in
    /// the URL wins over `password` (from `password_env`).
    package init(url: String, password: String? = nil, tls: TLSMode = .prefer, poolSize: Int = defaultPoolSize) throws(PostgresURLError) {
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
        guard poolSize >= 2 else { throw PostgresURLError(url: url, problem: "pool_size must be at least 2") }
        self.init(
            host: host, port: components.port ?? 5432, user: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 } ?? password,
            database: database.removingPercentEncoding ?? database, tls: tls, poolSize: poolSize)
    }

    /// The URL without its password, for messages and logs.
    package var displayURL: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}

/// A store URL that does not read.
package struct PostgresURLError: Error, Sendable, Hashable, CustomStringConvertible {
    package var url: String
    package var problem: String
    package var description: String {
        // The URL may hold a password: only what precedes it is shown.
        let shown = url.range(of: "@").map { _ in (url.split(separator: ":", maxSplits: 1).first.map(String.init) ?? "") + "://…" } ?? url
        return "bad PostgreSQL store URL '\(SafeText.display(shown, limit: 200))': \(problem)"
    }
}

/// Why the PostgreSQL store was not opened. Nothing was written.
package enum PostgresStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case cannotConnect(url: String, detail: String)
    /// The database was migrated by a newer Moonflow: this binary does not know its schema.
    case newerSchema(url: String, database: Int, binary: Int)
    case migrationFailed(url: String, version: Int, detail: String)

    package var description: String {
        switch self {
        case .cannotConnect(let url, let detail): "cannot connect to \(url): \(detail)"
        case .newerSchema(let url, let database, let binary):
            "\(url) has schema version \(database), newer than this binary knows (\(binary)); run a Moonflow at least as new as the one that migrated it"
        case .migrationFailed(let url, let version, let detail): "\(url): migration \(version) failed: \(detail)"
        }
    }
}
