import Foundation
import Hummingbird
import MoonflowEngine
import MoonflowModel
import OrderedCollections

/// `/v1/runs`: start (idempotent with `run_id`), list with filters and paging, get, report,
/// history, cancel, terminate.
enum RunRoutes {
    static let defaultPageSize = 50
    static let maxPageSize = 500

    static func add(to router: Router<APIContext>, core: ServerCore) {
        router.post("/v1/runs") { request, context in
            _ = try context.require(.start)
            let body = try await JSONBody(request, allowed: ["workflow", "input", "run_id", "priority", "debug"])
            let runID = try body.string("run_id")
            if let runID, let problem = RunIDRule.problem(with: runID) {
                throw APIError.badBody(problem, path: "$.run_id", ["pattern": .string(RunIDRule.pattern)])
            }
            let started = try await core.startRun(
                try body.requiredString("workflow"), input: try body.object("input"), runID: runID, priority: try body.priority("priority"),
                breakBefore: try body.breakBefore(), traceParent: request.traceParent)
            let status = try await core.store.state(of: started.runID)?.status ?? .queued
            return JSONResponse.make(
                ["run_id": .string(started.runID), "workflow": .string(started.workflow), "status": .string(status.rawValue), "created": .bool(started.created)],
                status: started.created ? .created : .ok)
        }
        router.get("/v1/runs") { request, context in
            _ = try context.require(.runs)
            let query = request.uri.queryParameters
            var statuses: Set<RunStatus>?
            if let text = query["status"] {
                statuses = Set(
                    try text.split(separator: ",").map { name in
                        guard let status = RunStatus(rawValue: String(name)) else {
                            throw APIError.badBody("unknown status '\(name)'", path: "query.status")
                        }
                        return status
                    })
            }
            let limit = try pageSize(query["limit"].map(String.init))
            let workflow = query["workflow"].map(String.init)
            // Newest first; the cursor is the last run id of the previous page, so runs started
            // meanwhile do not shift the pages that follow.
            var runs = try await core.store.runs(status: statuses).reversed().filter { workflow == nil || $0.workflow == workflow }[...]
            if let after = query["after"].map(String.init) {
                guard let index = runs.firstIndex(where: { $0.id == after }) else {
                    throw APIError.badBody("unknown cursor '\(after)'", path: "query.after")
                }
                runs = runs[(index + 1)...]
            }
            let page = runs.prefix(limit)
            return JSONResponse.make([
                "runs": .array(page.map(\.apiSummary)),
                "next": runs.count > limit ? .string(page.last!.id) : .null,
            ])
        }
        router.get("/v1/runs/{id}") { _, context in
            let principal = try context.require(.runs)
            let run = try await state(context, core)
            var detail = run.apiSummary.objectValue ?? [:]
            detail["actions"] = .array(operatorActions(run, for: principal).map(Value.string))
            return JSONResponse.make(.object(detail))
        }
        router.get("/v1/runs/{id}/report") { _, context in
            _ = try context.require(.runs)
            return JSONResponse.make(try await core.engine.report(try context.pathID()).toValue())
        }
        router.get("/v1/runs/{id}/history") { request, context in
            _ = try context.require(.runs)
            let run = try await state(context, core)
            let watched = try request.uri.queryParameters.getAll("watch").flatMap { $0.split(separator: ",") }.map { text in
                switch WatchPath.parse(String(text)) {
                case .success(let path): return path
                case .failure(let error): throw APIError.badBody(error.description, path: "query.watch")
                }
            }
            let journal = try await core.store.journal(of: run.id)
            guard watched.isEmpty else {
                return JSONResponse.make(["run_id": .string(run.id), "changes": .array(WatchPath.changes(of: watched, in: journal))])
            }
            return JSONResponse.make(["run_id": .string(run.id), "events": .array(journal.map(\.apiValue))])
        }
        router.post("/v1/runs/{id}/cancel") { _, context in
            _ = try context.require(.operate)
            let run = try await state(context, core)
            let status = try await core.engine.cancel(run.id)
            return JSONResponse.make(["run_id": .string(run.id), "status": .string(status.rawValue)])
        }
        router.post("/v1/runs/{id}/terminate") { _, context in
            _ = try context.require(.operate)
            let run = try await state(context, core)
            let status = try await core.engine.terminate(run.id)
            return JSONResponse.make(["run_id": .string(run.id), "status": .string(status.rawValue)])
        }
    }

    static func state(_ context: APIContext, _ core: ServerCore) async throws -> RunState {
        let id = try context.pathID()
        guard let state = try await core.store.state(of: id) else { throw APIError.notFound("no run '\(id)'") }
        return state
    }

    /// The `limit` query parameter of paged lists (runs, dead letters).
    static func pageSize(_ text: String?) throws -> Int {
        guard let text else { return defaultPageSize }
        guard let limit = Int(text), (1...maxPageSize).contains(limit) else {
            throw APIError.badBody("expected an integer from 1 to \(maxPageSize)", path: "query.limit")
        }
        return limit
    }
}

extension RunState {
    /// What a run list shows: identity, version, status and times.
    var apiSummary: Value {
        var object: OrderedDictionary<String, Value> = [
            "run_id": .string(id), "workflow": .string(workflow), "version": version.map(Value.string) ?? .null,
            "definition_hash": .string(definitionHash), "status": .string(status.rawValue),
            "queued_at": .string(queuedAt.iso8601), "started_at": startedAt.map { .string($0.iso8601) } ?? .null,
            "finished_at": finishedAt.map { .string($0.iso8601) } ?? .null,
        ]
        if let error { object["error"] = error.toValue() }
        if let parent { object["parent"] = ["run_id": .string(parent.runID), "activity": .string(parent.activity)] }
        object["activities"] = .object(activities.mapValues { .string($0.status.rawValue) })
        return .object(object)
    }
}

extension RunEvent {
    /// `toValue()` with the time also as ISO 8601, for people and the web console. (A task token that a
    /// journal written before tokens were kept as digests holds is read as its digest.)
    var apiValue: Value {
        var object = toValue().objectValue ?? [:]
        object["at_iso"] = .string(at.iso8601)
        return .object(object)
    }
}
