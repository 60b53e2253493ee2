import Hummingbird
import MoonflowEngine
import MoonflowModel
import NIOCore
import OrderedCollections
import ServiceLifecycle

/// `POST /v1/events` (matched against event triggers) and `GET /v1/events/stream` (Server-Sent
/// Events of every lifecycle event; types in docs/workflow-format.md). An idle stream sends a `: keep-alive` comment
/// every `keepAlive`, so proxies and clients do not close it.
enum EventRoutes {
    static func add(to router: Router<APIContext>, core: ServerCore, keepAlive: Duration, limits: ServerLimits) {
        router.post("/v1/events") { request, context in
            _ = try context.require(.start)
            let body = try await JSONBody(request, allowed: ["type", "payload", "id"])
            let type = try body.requiredString("type")
            guard !EventType(type).isReserved else {
                throw APIError.badBody("event types starting with \(EventType.reservedPrefixes.joined(separator: ", ")) are the engine's own", path: "$.type")
            }
            let outcome = try await core.postEvent(PostedEvent(type: type, payload: try body.object("payload"), id: try body.string("id")))
            return response(type: type, outcome)
        }
        // `HEAD` answers the stream's headers without subscribing (a `GET` body never ends).
        router.head("/v1/events/stream") { _, context in
            _ = try context.require(.runs)
            return Response(status: .ok, headers: EventStream.headers, body: ResponseBody { writer in try await writer.finish(nil) })
        }
        router.get("/v1/events/stream") { request, context in
            _ = try context.require(.runs)
            let stream = EventStream(
                runFilter: request.uri.queryParameters["run_id"].map(String.init),
                typePrefix: request.uri.queryParameters["type"].map(String.init),
                keepAlive: keepAlive, limits: limits, channel: context.channel)
            // Subscribed before the answer starts, so no event after it is missed.
            let subscription = core.engine.bus.subscription()
            let body = ResponseBody { writer in try await stream.run(subscription, writer: &writer) }
            return Response(status: .ok, headers: EventStream.headers, body: body)
        }
    }
}

extension EventRoutes {
    /// `{type, runs, started, rejected}` (`runs`: the runs started, as before `started` existed):
    /// 202 when a run started or no workflow matched; when every matching workflow refused the
    /// event, 400 with the same members and the `SchemaInvalid` error of the first refusal.
    static func response(type: String, _ outcome: EventOutcome) -> Response {
        let started: [Value] = outcome.started.map {
            ["workflow": .string($0.workflow), "run_id": .string($0.runID), "created": .bool($0.created)]
        }
        var body: OrderedDictionary<String, Value> = [
            "type": .string(type), "runs": .array(started), "started": .array(started),
            "rejected": .array(
                outcome.rejected.map {
                    ["workflow": .string($0.workflow), "errors": .array($0.errors.map(Value.string)), "dead_letter_id": .string($0.id)]
                }),
        ]
        guard outcome.started.isEmpty, let first = outcome.rejected.first else { return JSONResponse.make(.object(body), status: .accepted) }
        let workflows = outcome.rejected.map { "'\($0.workflow)'" }.joined(separator: ", ")
        body["error"] = [
            "type": .string(ErrorType.schemaInvalid.rawValue),
            "message": .string(
                SafeText.errorMessage(
                    "the run input does not match its schema in every workflow the event triggers (\(workflows)): kept as dead letters; first: \(first.errors.joined(separator: "; "))"
                )),
            "details": .array(first.errors.map(Value.string)),
        ]
        return JSONResponse.make(.object(body), status: .badRequest)
    }
}

/// One subscriber of `GET /v1/events/stream`: events go from the bus through a bounded
/// `EventStreamBuffer` to the connection, so a client that reads slowly or not at all costs
/// at most `limits.streamBufferBytes` (then it gets a final `stream.overflow` event), and one
/// whose connection takes nothing for `limits.streamWriteTimeout` is disconnected.
struct EventStream: Sendable {
    let runFilter: String?
    let typePrefix: String?
    let keepAlive: Duration
    let limits: ServerLimits
    let channel: any Channel

    static let overflowType = "stream.overflow"
    static let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]

    func run(_ subscription: EventSubscription, writer: inout any ResponseBodyWriter) async throws {
        defer { subscription.cancel() }
        try await writer.write(ByteBuffer(string: ": moonflow event stream\n\n"))
        let buffer = EventStreamBuffer(limit: limits.streamBufferBytes)
        let final = overflowEvent()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in subscription {
                    if let runFilter, event.runID != runFilter { continue }
                    if let typePrefix, !event.type.rawValue.hasPrefix(typePrefix) { continue }
                    let chunk = ByteBuffer(string: "event: \(event.type.rawValue)\ndata: \(event.apiValue.jsonString())\n\n")
                    guard buffer.push(chunk, orEndWith: final) else {
                        subscription.cancel()
                        return
                    }
                }
                // The bus ends a subscription only when it fell behind, or when the stream ends.
                buffer.finish(with: subscription.overflowed ? final : nil)
            }
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
                while let chunk = await buffer.next() {
                    buffer.writing(true)
                    try await writer.write(chunk)
                    buffer.writing(false)
                }
            } onCancelOrGracefulShutdown: {
                buffer.finish()
            }
            group.cancelAll()
        }
        try await writer.finish(nil)
    }

    private func overflowEvent() -> ByteBuffer {
        let data: Value = [
            "type": .string(Self.overflowType),
            "message": .string(
                "this subscriber fell more than \(limits.streamBufferBytes) bytes behind, so later events were not sent; reconnect, and read a run's history (/v1/runs/ID/history) for what was missed"),
            "limit_bytes": .int(Int64(limits.streamBufferBytes)),
        ]
        return ByteBuffer(string: "event: \(Self.overflowType)\ndata: \(data.jsonString())\n\n")
    }
}
