import Logging
import NIOCore
import NIOHTTPTypes
import OrderedCollections
import Synchronization

/// Every open connection of the server, oldest first, and whether a request is in progress on it.
///
/// At most `capacity` connections are open. A new connection beyond it closes the oldest idle one
/// (no request in progress: a keep-alive connection, or one that has not sent a whole request head
/// yet) — so connections that only sit there can never lock out a request such as `/health` —
/// and is refused (closed at once) only when every connection is busy with a request. Busy
/// connections are bounded by the request timeout, the stream limits and `capacity`.
final class ConnectionRegistry: Sendable {
    struct Entry {
        var channel: any Channel
        /// Requests whose head arrived and whose response has not ended (HTTP/1 pipelining: several).
        var inProgress = 0
    }

    private struct State {
        var nextID: UInt64 = 0
        /// In the order connections were opened (ids increase), so the first idle one is the oldest.
        var entries: OrderedDictionary<UInt64, Entry> = [:]
        var evicted = 0
        var refused = 0
    }

    enum Admission: Equatable {
        case admitted(id: UInt64)
        case refused
    }

    let capacity: Int
    let logger: Logger
    private let state = Mutex(State())

    init(capacity: Int, logger: Logger) {
        self.capacity = capacity
        self.logger = logger
    }

    /// Admits a new connection, closing the oldest idle one when the server is full.
    func admit(_ channel: any Channel) -> Admission {
        let (admission, victim) = state.withLock { state -> (Admission, (any Channel)?) in
            var victim: (any Channel)?
            if state.entries.count >= capacity {
                guard let oldest = state.entries.first(where: { $0.value.inProgress == 0 })?.key else {
                    state.refused += 1
                    return (.refused, nil)
                }
                victim = state.entries.removeValue(forKey: oldest)?.channel
                state.evicted += 1
            }
            state.nextID += 1
            state.entries[state.nextID] = Entry(channel: channel)
            return (.admitted(id: state.nextID), victim)
        }
        if let victim {
            logger.debug("connection limit reached: the oldest idle connection is closed", metadata: ["connections.max": "\(capacity)"])
            victim.close(mode: .all, promise: nil)
        } else if admission == .refused {
            logger.warning(
                "connection limit reached and every connection is busy: a new connection is refused",
                metadata: ["connections.max": "\(capacity)"])
        }
        return admission
    }

    func requestStarted(_ id: UInt64) { state.withLock { $0.entries[id]?.inProgress += 1 } }

    func responseEnded(_ id: UInt64) {
        state.withLock { state in
            if let count = state.entries[id]?.inProgress, count > 0 { state.entries[id]?.inProgress = count - 1 }
        }
    }

    func closed(_ id: UInt64) { state.withLock { _ = $0.entries.removeValue(forKey: id) } }

    /// Open connections, and how many were closed to admit others or refused, since start.
    var counts: (open: Int, evicted: Int, refused: Int) { state.withLock { ($0.entries.count, $0.evicted, $0.refused) } }
}

/// Registers its connection with the `ConnectionRegistry` (refused: closed at once), tells it
/// when a request is in progress, and closes a connection whose request body has not arrived
/// within the request timeout (a body sent a byte at a time would otherwise hold it forever).
/// The idle and slow-header timeout is Hummingbird's `HTTPConnectionStateHandler`.
///
/// The timeout is armed at the end of the read that brought a request's head, and only when its
/// end has not come with it: most requests arrive whole in one read, and arming then cancelling a
/// timer for each cost more than the rest of this handler.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let registry: ConnectionRegistry
    let requestTimeout: TimeAmount
    private var id: UInt64?
    private var requestDeadline: Scheduled<Void>?
    /// A request's head has come and its end not yet.
    private var awaitingEnd = false

    init(registry: ConnectionRegistry, requestTimeout: Duration) {
        self.registry = registry
        self.requestTimeout = TimeAmount(requestTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        switch registry.admit(context.channel) {
        case .admitted(let id):
            self.id = id
        case .refused:
            context.close(mode: .all, promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        requestDeadline?.cancel()
        requestDeadline = nil
        if let id { registry.closed(id) }
        id = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        requestDeadline?.cancel()
        requestDeadline = nil
        if let id { registry.closed(id) }
        id = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            if let id { registry.requestStarted(id) }
            requestDeadline?.cancel()
            requestDeadline = nil
            awaitingEnd = true
        case .end:
            requestDeadline?.cancel()
            requestDeadline = nil
            awaitingEnd = false
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if awaitingEnd, requestDeadline == nil {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            requestDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: requestTimeout) {
                loopBound.value.close(mode: .all, promise: nil)
            }
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), let id { registry.responseEnded(id) }
        context.write(data, promise: promise)
    }
}
