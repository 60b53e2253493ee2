import Hummingbird
import MoonflowEngine
import MoonflowModel
import ServiceLifecycle

/// `POST /v1/events` (matched against event triggers) and `GET /v1/events/stream` (Server-Sent
/// Events of every lifecycle event; types in docs/workflow-format.md). An idle stream sends a `: keep-alive` comment
/// every `keepAlive`, so proxies and clients do not close it.
enum EventRoutes {
    /// What the stream writes next.
    private enum Item: Sendable {
        case event(RunEvent)
        case keepAlive
    }

    static func add(to router: Router<APIContext>, core: ServerCore, keepAlive: Duration) {
        router.post("/v1/events") { request, context in
            _ = try context.require(.start)
            let body = try await JSONBody(request, allowed: ["type", "payload", "id"])
            let type = try body.requiredString("type")
            guard !EventType(type).isReserved else {
                throw APIError.badBody("event types starting with \(EventType.reservedPrefixes.joined(separator: ", ")) are the engine's own", path: "$.type")
            }
            let started = try await core.postEvent(type: type, payload: try body.object("payload"), eventID: try body.string("id"))
            return JSONResponse.make(
                [
                    "type": .string(type),
                    "runs": .array(started.map { ["run_id": .string($0.runID), "workflow": .string($0.workflow), "created": .bool($0.created)] }),
                ], status: .accepted)
        }
        router.get("/v1/events/stream") { request, context in
            _ = try context.require(.read)
            let runFilter = request.uri.queryParameters["run_id"].map(String.init)
            let typePrefix = request.uri.queryParameters["type"].map(String.init)
            let events = core.engine.events()
            let body = ResponseBody { writer in
                try await writer.write(ByteBuffer(string: ": moonflow event stream\n\n"))
                let (items, sink) = AsyncStream<Item>.makeStream()
                let forward = Task {
                    for await event in events { sink.yield(.event(event)) }
                    sink.finish()
                }
                let ticker = Task {
                    while (try? await Task.sleep(for: keepAlive)) != nil { sink.yield(.keepAlive) }
                }
                defer {
                    forward.cancel()
                    ticker.cancel()
                }
                for await item in items.cancelOnGracefulShutdown() {
                    switch item {
                    case .keepAlive:
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    case .event(let event):
                        if let runFilter, event.runID != runFilter { continue }
                        if let typePrefix, !event.type.rawValue.hasPrefix(typePrefix) { continue }
                        try await writer.write(ByteBuffer(string: "event: \(event.type.rawValue)\ndata: \(event.apiValue.jsonString())\n\n"))
                    }
                }
                try await writer.finish(nil)
            }
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
        }
    }
}
