import HTTPTypes
import Hummingbird
import MoonflowEngine
import MoonflowModel
import NIOCore
import ServiceLifecycle

/// One subscriber of `GET /v1/events/stream` (docs/api.md).
///
/// Every event carries its position in the store's history as its SSE `id` (`EventPosition`).
/// A client that reconnects with `Last-Event-ID` (the header browsers send, or the
/// `last_event_id` query parameter) first gets what the store holds after that position — read
/// page by page at the pace the client reads — and then the live events, each once. Live events
/// go from the bus through a bounded `EventStreamBuffer` to the connection, so a client that
/// reads slowly or not at all costs at most `limits.streamBufferBytes` (then it gets a final
/// `stream.overflow` event, and can reconnect from the last id it got), and one whose connection
/// takes nothing for `limits.streamWriteTimeout` is disconnected.
struct EventStream: Sendable {
    let runFilter: String?
    let typePrefix: String?
    let keepAlive: Duration
    let limits: ServerLimits
    let channel: any Channel
    let store: any RunStore

    static let overflowType = "stream.overflow"
    static let resetType = "stream.reset"
    static let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
    /// Journal entries read from the store at a time when replaying.
    static let replayPage = 256
    static let lastEventIDHeader = HTTPField.Name("Last-Event-ID")!

    /// Where the client resumes: the `Last-Event-ID` header, else the `last_event_id` query
    /// parameter; `nil` for a new subscriber. An id that is not a position is a 400.
    static func resumePoint(of request: Request) throws -> EventPosition? {
        let header = request.headers[lastEventIDHeader]
        guard let text = header ?? request.uri.queryParameters["last_event_id"].map(String.init) else { return nil }
        // An empty header is what a browser sends before it saw an id: start from now.
        if text.isEmpty, header != nil { return nil }
        guard let position = EventPosition(text) else {
            throw APIError.badBody(
                "'\(SafeText.display(text, limit: 64))' is not an event id (the `id` of an event this stream sent: digits, optionally '.' and digits)",
                path: header != nil ? "header Last-Event-ID" : "query last_event_id")
        }
        return position
    }

    /// Streams until the client leaves, the server stops, or the subscriber falls behind.
    /// `stored` is the store's newest position when `subscription` began.
    func run(
        _ subscription: EventSubscription, resumingAfter resume: EventPosition?, stored: Int64, writer: inout any ResponseBodyWriter
    ) async throws {
        defer { subscription.cancel() }
        try await writer.write(ByteBuffer(string: ": moonflow event stream\n\n"))
        let buffer = EventStreamBuffer(limit: limits.streamBufferBytes)
        let final = overflowEvent()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let tick = min(keepAlive, limits.streamWriteTimeout / 4)
                while (try? await Task.sleep(for: tick)) != nil {
                    if buffer.writeStalled(longerThan: limits.streamWriteTimeout) {
                        // The client takes nothing: a write cannot finish, so close the connection.
                        channel.close(mode: .all, promise: nil)
                        return
                    }
                    buffer.keepAlive(after: keepAlive, comment: ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            try await withTaskCancellationOrGracefulShutdownHandler {
                var cursor = EventPosition(offset: stored)
                if let resume {
                    cursor = try await replay(after: resume, stored: stored, buffer: buffer, writer: &writer)
                }
                let from = cursor
                group.addTask { await forward(subscription, after: from, into: buffer, orEndWith: final) }
                while let chunk = await buffer.next() { try await write(chunk, buffer: buffer, writer: &writer) }
            } onCancelOrGracefulShutdown: {
                buffer.finish()
            }
            group.cancelAll()
        }
        try await writer.finish(nil)
    }

    /// Writes what the store holds after `resume` (in position order, the stream's filters
    /// applied) and returns the newest position it read. An id past the store's history (a
    /// store that was reset, or the in-memory store of a server that restarted) gets a
    /// `stream.reset` event, and the stream goes on from now.
    private func replay(
        after resume: EventPosition, stored: Int64, buffer: EventStreamBuffer, writer: inout any ResponseBodyWriter
    ) async throws -> EventPosition {
        guard resume.offset <= stored else {
            try await write(resetEvent(resume, stored: stored), buffer: buffer, writer: &writer)
            return EventPosition(offset: stored)
        }
        var cursor = resume
        // The entry at `resume` itself may have events after it (emitted ones, `sub` > 0).
        var after = max(0, resume.offset - 1)
        while !Task.isCancelled, !buffer.isFinished {
            let entries = try await store.events(after: after, runID: runFilter, limit: Self.replayPage)
            for entry in entries {
                for (_, event) in Announcements.published(entry) {
                    guard let position = event.position, position > cursor else { continue }
                    cursor = position
                    if let chunk = chunk(event, id: position) { try await write(chunk, buffer: buffer, writer: &writer) }
                }
                after = entry.position?.offset ?? after
            }
            if entries.count < Self.replayPage { break }
        }
        // Entries of other runs (filtered out by the store) still moved the history on.
        return max(cursor, EventPosition(offset: min(after, stored)))
    }

    /// Bus events to the buffer: those at or before `cursor` were replayed already; one without a
    /// position (not journaled: `circuit.*`, `dead_letter.created`) gets the id of the newest
    /// position seen, so a client resuming from it misses nothing that is stored.
    private func forward(
        _ subscription: EventSubscription, after start: EventPosition, into buffer: EventStreamBuffer, orEndWith final: ByteBuffer
    ) async {
        var cursor = start
        for await event in subscription {
            if let position = event.position {
                guard position > cursor else { continue }
                cursor = position
            }
            guard let chunk = chunk(event, id: cursor) else { continue }
            guard buffer.push(chunk, orEndWith: final) else {
                subscription.cancel()
                return
            }
        }
        // The bus ends a subscription only when it fell behind, or when the stream ends.
        buffer.finish(with: subscription.overflowed ? final : nil)
    }

    /// The event as SSE, or `nil` when the stream's filters leave it out.
    private func chunk(_ event: RunEvent, id: EventPosition) -> ByteBuffer? {
        if let runFilter, event.runID != runFilter { return nil }
        if let typePrefix, !event.type.rawValue.hasPrefix(typePrefix) { return nil }
        return ByteBuffer(string: "id: \(id)\nevent: \(event.type.rawValue)\ndata: \(event.apiValue.jsonString())\n\n")
    }

    /// Writes a chunk to the connection, marked for the write-stall watchdog. A replay writes
    /// straight through it, at the client's pace, so it holds one page of the store, not the
    /// whole history.
    private func write(_ chunk: ByteBuffer, buffer: EventStreamBuffer, writer: inout any ResponseBodyWriter) async throws {
        buffer.writing(true)
        try await writer.write(chunk)
        buffer.writing(false)
    }

    private func overflowEvent() -> ByteBuffer {
        let data: Value = [
            "type": .string(Self.overflowType),
            "message": .string(
                "this subscriber fell more than \(limits.streamBufferBytes) bytes behind, so later events were not sent; reconnect with the last event id (Last-Event-ID) to get them from the store"),
            "limit_bytes": .int(Int64(limits.streamBufferBytes)),
        ]
        return ByteBuffer(string: "event: \(Self.overflowType)\ndata: \(data.jsonString())\n\n")
    }

    private func resetEvent(_ resume: EventPosition, stored: Int64) -> ByteBuffer {
        let data: Value = [
            "type": .string(Self.resetType),
            "message": .string(
                "event id \(resume) is past this store's history (newest \(stored)): the store was replaced, or the server keeps runs in memory and restarted; streaming from now"),
            "last_event_id": .string(resume.description), "newest": .int(stored),
        ]
        return ByteBuffer(string: "id: \(stored)\nevent: \(Self.resetType)\ndata: \(data.jsonString())\n\n")
    }
}
