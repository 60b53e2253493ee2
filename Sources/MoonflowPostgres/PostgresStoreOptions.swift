import MoonflowEngine
package import MoonflowModel

/// How the PostgreSQL store connects and keeps what it keeps (docs/scale-out.md).
package struct PostgresStoreOptions: Sendable, Hashable {
    package var location: PostgresLocation
    /// The most event dead letters kept (at least 1); past it the oldest are dropped.
    package var deadLetterRetention: Int
    /// Set on every session of the engine: a transaction left open this long is ended by the server,
    /// so a stuck session cannot hold locks or hold back vacuum.
    package var idleInTransactionTimeout: Duration
    /// How long this process's claims outlive its last heartbeat; it heartbeats three times per lease.
    package var lease: Duration

    package init(
        _ location: PostgresLocation, deadLetterRetention: Int = EventDeadLetter.retentionLimit,
        idleInTransactionTimeout: Duration = .seconds(60), lease: Duration = .seconds(30)
    ) {
        self.location = location
        self.deadLetterRetention = deadLetterRetention
        self.idleInTransactionTimeout = idleInTransactionTimeout
        self.lease = lease
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
