import Foundation

/// What one `moonflow serve` process allows its clients, so that no client — authenticated or
/// not — can take the process down by holding connections, sending slowly, or not reading.
package struct ServerLimits: Sendable, Hashable {
    /// Open connections at most. `nil`: 4,096, or fewer when the descriptor limit (raised to its
    /// hard limit at start) minus `reservedDescriptors` leaves less.
    package var maxConnections: Int?
    /// Descriptors kept for everything that is not a connection: the store's files, the file
    /// watcher's listings, scripts, logs, the event loops.
    package var reservedDescriptors: Int
    /// A connection with no request in progress — idle between requests, or still sending the
    /// head of one — is closed after this long.
    package var idleTimeout: Duration
    /// A request's body must be received within this long of its head.
    package var requestTimeout: Duration
    /// What an event-stream subscriber may fall behind by before it is dropped (with a final
    /// `stream.overflow` event), in bytes of events not yet written to it.
    package var streamBufferBytes: Int
    /// An event-stream subscriber whose connection takes no byte for this long is disconnected.
    package var streamWriteTimeout: Duration

    package static let defaultMaxConnections = 4096
    /// Fewer connections than this is no server; `serve` refuses to start.
    package static let minimumConnections = 16
    /// Connections closed to admit new ones may not have released their descriptor yet; accepting
    /// pauses beyond `maxConnections` plus this many.
    static let closingHeadroom = 32

    package init(
        maxConnections: Int? = nil, reservedDescriptors: Int = 256, idleTimeout: Duration = .seconds(30),
        requestTimeout: Duration = .seconds(30), streamBufferBytes: Int = 1 << 20, streamWriteTimeout: Duration = .seconds(30)
    ) {
        self.maxConnections = maxConnections
        self.reservedDescriptors = reservedDescriptors
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.streamBufferBytes = streamBufferBytes
        self.streamWriteTimeout = streamWriteTimeout
    }

    /// The connection cap for a descriptor limit; throws when the limit cannot hold it.
    package func connectionCap(descriptorLimit: Int) throws(ServerSetupError) -> Int {
        let available = descriptorLimit - reservedDescriptors - Self.closingHeadroom
        let cap = maxConnections ?? min(Self.defaultMaxConnections, available)
        guard cap >= Self.minimumConnections, cap <= available else {
            throw .descriptorLimit(
                limit: descriptorLimit, maxConnections: cap, reserved: reservedDescriptors + Self.closingHeadroom)
        }
        return cap
    }
}

/// The process's limit on open descriptors (`RLIMIT_NOFILE`).
enum DescriptorLimit {
    /// `RLIM_INFINITY` (all bits set; the C macro does not import).
    static let unlimited = rlim_t.max

    /// Raises the soft limit to the hard one (a server needs them; the hard limit is what the
    /// administrator allows) and returns the limit in force.
    static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            // An unlimited hard limit is capped by the kernel's nr_open; ask for a large finite one.
            raised.rlim_cur = limit.rlim_max == Self.unlimited ? 1 << 20 : limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == Self.unlimited ? Int(Int32.max) : Int(limit.rlim_cur)
    }
}
