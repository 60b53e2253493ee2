import MoonflowEngine
import PostgresNIO

/// How PostgreSQL's errors reach the engine.
enum PostgresErrors {
    /// The server's message and SQLSTATE, or what went wrong on the connection; never the query's
    /// bound values.
    static func text(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }

    /// A full disk becomes `StorageFull`; a database that cannot be reached, is shutting down, or
    /// times a lock out becomes `StorageBusy` (the driver waits and writes the transition again,
    /// docs/durability.md); anything else stays as it is.
    static func storageError(_ error: any Error) -> any Error {
        guard let error = error as? PSQLError else { return error }
        if let state = error.serverInfo?[.sqlState] {
            switch state {
            case "53100": return RunStoreError.storageFull(text(error))
            // Insufficient resources, lock and statement timeouts, deadlocks, serialization,
            // shutdown and connection exceptions, read-only standby.
            case let state
            where state.hasPrefix("53") || state.hasPrefix("57") || state.hasPrefix("08") || state == "55P03" || state == "40P01"
                || state == "40001" || state == "25006" || state == "25P03":
                return RunStoreError.storageBusy(text(error))
            default: return error
            }
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed, .queryCancelled:
            return RunStoreError.storageBusy(text(error))
        default: return error
        }
    }

    /// Whether a batch failed as a whole for a reason outside its writes (the writes alone would fail too).
    static func isStorageFault(_ error: any Error) -> Bool {
        switch error as? RunStoreError {
        case .storageFull?, .storageBusy?: true
        default: false
        }
    }
}
