import Hummingbird
import MoonflowEngine
import MoonflowModel

/// `/v1/dead-letters`: event starts a workflow refused, events whose trigger failed and
/// notifications whose delivery failed (docs/api.md, "Dead letters"), newest first, filtered by
/// workflow and kind and paged like runs; one by id. They hold events' payloads and
/// notifications' messages, so reading them needs `runs.read`; redriving (after a fix: an event
/// starts its run again, a notification is delivered again) and discarding one needs `operate`.
enum DeadLetterRoutes {
    static func add(to router: Router<APIContext>, core: ServerCore) {
        router.get("/v1/dead-letters") { request, context in
            _ = try context.require(.runs)
            let query = request.uri.queryParameters
            let limit = try RunRoutes.pageSize(query["limit"].map(String.init))
            let kind = try query["kind"].map { text in
                guard let kind = EventDeadLetter.Kind(rawValue: String(text)) else {
                    let kinds = EventDeadLetter.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                    throw APIError.badBody("unknown dead letter kind '\(SafeText.display(String(text), limit: 64))' (one of \(kinds))", path: "query.kind")
                }
                return kind
            }
            var letters = try await core.store.eventDeadLetters(workflow: query["workflow"].map(String.init))
                .filter { kind == nil || $0.kind == kind }[...]
            if let after = query["after"].map(String.init) {
                guard let index = letters.firstIndex(where: { $0.id == after }) else {
                    throw APIError.badBody("unknown cursor '\(after)'", path: "query.after")
                }
                letters = letters[(index + 1)...]
            }
            let page = letters.prefix(limit)
            return JSONResponse.make([
                "dead_letters": .array(page.map { $0.toValue(summary: true) }),
                "next": letters.count > limit ? .string(page.last!.id) : .null,
            ])
        }
        router.get("/v1/dead-letters/{id}") { _, context in
            _ = try context.require(.runs)
            let id = try context.pathID()
            guard let letter = try await core.store.eventDeadLetter(id: id) else {
                throw APIError.notFound("no dead letter '\(SafeText.display(id, limit: 256))'")
            }
            return JSONResponse.make(letter.toValue())
        }
        router.post("/v1/dead-letters/{id}/redrive") { _, context in
            _ = try context.require(.operate)
            let id = try context.pathID()
            guard let letter = try await core.store.eventDeadLetter(id: id) else {
                throw APIError.notFound("no dead letter '\(SafeText.display(id, limit: 256))'")
            }
            if letter.kind == .notificationFailed {
                let redriven = try await core.served.outbox.redrive(id)
                return JSONResponse.make(["dead_letter": redriven.toValue(summary: true), "delivered": true])
            }
            let redrive = try await core.dispatcher.admitting { submit in
                let redrive = try await core.engine.redriveDeadLetter(id, workflow: core.catalog.current(letter.workflow)?.pinned)
                if redrive.created { submit(redrive.runID) }
                return redrive
            }
            return JSONResponse.make([
                "dead_letter": redrive.letter.toValue(summary: true), "run_id": .string(redrive.runID), "created": .bool(redrive.created),
            ])
        }
        router.post("/v1/dead-letters/{id}/discard") { _, context in
            _ = try context.require(.operate)
            return JSONResponse.make(try await core.engine.discardDeadLetter(try context.pathID()).toValue(summary: true))
        }
    }
}
