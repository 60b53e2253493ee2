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
            let outcome = try await core.postEvent(PostedEvent(
                    type: type, payload: try body.object("payload"), id: try body.string("id"), traceParent: request.traceParent))
            return response(type: type, outcome)
        }
        // `HEAD` answers the stream's headers without subscribing (a `GET` body never ends).
        router.head("/v1/events/stream") { _, context in
            _ = try context.require(.runs)
            return Response(status: .ok, headers: EventStream.headers, body: ResponseBody { writer in try await writer.finish(nil) })
        }
        router.get("/v1/events/stream") { request, context in
            _ = try context.require(.runs)
            let resume = try EventStream.resumePoint(of: request)
            // Subscribed before the store's newest position is read: an event committed in
            // between is in both, and the stream sends it once (by its position).
            let subscription = core.engine.bus.subscription()
            let stored: Int64
            do { stored = try await core.store.lastPosition() } catch {
                subscription.cancel()
                throw error
            }
            let stream = EventStream(
                runFilter: request.uri.queryParameters["run_id"].map(String.init),
                typePrefix: request.uri.queryParameters["type"].map(String.init),
                keepAlive: keepAlive, limits: limits, channel: context.channel, store: core.store)
            let body = ResponseBody { writer in
                try await stream.run(subscription, resumingAfter: resume, stored: stored, writer: &writer)
            }
            return Response(status: .ok, headers: EventStream.headers, body: body)
        }
    }
}

extension EventRoutes {
    /// `{type, runs, started, rejected}` (`runs`: the runs started, as before `started` existed;
    /// `rejected`: the dead letters, each with its `kind`): 202 when a run started, no workflow
    /// matched or only triggers failed to evaluate; when every matching workflow refused the
    /// event or its trigger failed, and one refused it, 400 with the same members and the
    /// `SchemaInvalid` error of the first refusal.
    static func response(type: String, _ outcome: EventOutcome) -> Response {
        let started: [Value] = outcome.started.map {
            ["workflow": .string($0.workflow), "run_id": .string($0.runID), "created": .bool($0.created)]
        }
        var body: OrderedDictionary<String, Value> = [
            "type": .string(type), "runs": .array(started), "started": .array(started),
            "rejected": .array(
                outcome.rejected.map {
                    [
                        "workflow": .string($0.workflow), "kind": .string($0.kind.rawValue), "errors": .array($0.errors.map(Value.string)),
                        "dead_letter_id": .string($0.id),
                    ]
                }),
        ]
        guard outcome.started.isEmpty, let first = outcome.rejected.first(where: { $0.kind == .refusedStart }) else {
            return JSONResponse.make(.object(body), status: .accepted)
        }
        let workflows = outcome.rejected.filter { $0.kind == .refusedStart }.map { "'\($0.workflow)'" }.joined(separator: ", ")
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
