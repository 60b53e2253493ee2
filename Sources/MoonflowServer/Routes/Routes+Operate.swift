import Hummingbird
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import OrderedCollections

/// An operator's actions on one run (docs/operations.md): pause, unpause, continue, redrive,
/// rerun, resume a failed compensation, and its log. A run an action changes is handed to the dispatcher, which drives it; the
/// answer says the run's status once the action is written. A refused action is a 409 and changes
/// nothing.
enum OperateRoutes {
    static func add(to router: Router<APIContext>, core: ServerCore) {
        router.post("/v1/runs/{id}/pause") { _, context in
            _ = try context.require(.operate)
            let run = try await RunRoutes.state(context, core)
            return answer(run.id, try await core.engine.pause(run.id, drive: false))
        }
        router.post("/v1/runs/{id}/unpause") { _, context in
            _ = try context.require(.operate)
            let run = try await RunRoutes.state(context, core)
            let status = try await core.engine.unpause(run.id, step: false, drive: false)
            core.dispatcher.submit(run.id)
            return answer(run.id, status)
        }
        router.post("/v1/runs/{id}/continue") { request, context in
            _ = try context.require(.operate)
            let body = try await JSONBody(request, allowed: ["step"])
            let run = try await RunRoutes.state(context, core)
            let status = try await core.engine.unpause(run.id, step: try body.bool("step") ?? false, drive: false)
            core.dispatcher.submit(run.id)
            return answer(run.id, status)
        }
        router.post("/v1/runs/{id}/redrive") { request, context in
            _ = try context.require(.operate)
            let body = try await JSONBody(request, allowed: ["latest"])
            let run = try await RunRoutes.state(context, core)
            let latest = try body.bool("latest") == true ? try current(run.workflow, core) : nil
            let status = try await core.engine.redrive(run.id, latest: latest, drive: false)
            core.dispatcher.submit(run.id)
            return answer(run.id, status)
        }
        router.post("/v1/runs/{id}/resume-compensation") { request, context in
            _ = try context.require(.operate)
            let body = try await JSONBody(request, allowed: ["latest"])
            let run = try await RunRoutes.state(context, core)
            let latest = try body.bool("latest") == true ? try current(run.workflow, core) : nil
            return answer(run.id, try await core.engine.resumeCompensation(run.id, latest: latest))
        }
        router.post("/v1/runs/{id}/rerun") { request, context in
            _ = try context.require(.operate)
            let body = try await JSONBody(request, allowed: ["from", "input", "latest"])
            let run = try await RunRoutes.state(context, core)
            let from = try body.requiredString("from")
            let input = body.fields["input"].flatMap { $0.isNull ? nil : $0 }
            if let input, input.objectValue == nil { throw APIError.badBody("expected an object, not \(input.typeName)", path: "$.input") }
            let latest = try body.bool("latest") == true ? try current(run.workflow, core) : nil
            let started: RunStart
            do {
                started = try await core.dispatcher.admitting { submit in
                    let started = try await core.engine.rerun(run.id, from: from, input: input, latest: latest)
                    submit(started.runID)
                    return started
                }
            } catch let error as EngineError {
                guard case .unknownActivity = error else { throw error }
                throw APIError.badBody(error.description, path: "$.from")
            }
            let status = try await core.store.state(of: started.runID)?.status ?? .queued
            return JSONResponse.make(
                ["run_id": .string(started.runID), "rerun_of": .string(run.id), "status": .string(status.rawValue)], status: .created)
        }
        router.get("/v1/runs/{id}/logs") { request, context in
            _ = try context.require(.runs)
            let run = try await RunRoutes.state(context, core)
            let query = request.uri.queryParameters
            let level = query["level"].map(String.init) ?? "debug"
            guard RunLogLine.levels.contains(level) else {
                throw APIError.badBody("expected one of \(RunLogLine.levels.joined(separator: ", "))", path: "query.level")
            }
            let lines = RunLogLine.lines(
                of: try await core.store.journal(of: run.id), minimumLevel: level, activity: query["activity"].map(String.init))
            return JSONResponse.make(["run_id": .string(run.id), "lines": .array(lines.map { $0.toValue() })])
        }
    }

    private static func answer(_ runID: RunID, _ status: RunStatus) -> Response {
        JSONResponse.make(["run_id": .string(runID), "status": .string(status.rawValue)])
    }

    /// The served definition of a workflow, for `latest`.
    private static func current(_ workflow: String, _ core: ServerCore) throws -> PinnedWorkflow {
        guard let loaded = core.catalog.current(workflow) else {
            throw APIError(.conflict, "Refused", "workflow '\(workflow)' is not served now (deleted, or invalid): nothing to re-pin to")
        }
        return loaded.pinned
    }
}

/// The operator actions `run`'s state allows now, for a caller with the `operate` permission (none
/// for one without): what a console shows buttons for. Each is a route of docs/api.md.
func operatorActions(_ run: RunState, for principal: Principal) -> [String] {
    guard principal.allows(.operate) else { return [] }
    let stoppable = run.ending == nil ? ["cancel", "terminate"] : run.ending == .terminated ? [] : ["terminate"]
    switch run.status {
    case .queued: return stoppable
    case .running, .waiting: return stoppable + (run.ending == nil ? ["pause"] : [])
    case .paused: return stoppable + ["unpause", "continue"]
    case .compensating: return ["terminate"]
    case .failed, .timedOut, .cancelled: return (run.compensations.isEmpty ? ["redrive"] : []) + ["rerun"]
    case .compensationFailed: return ["resume_compensation", "rerun"]
    case .completed, .compensated, .terminated: return ["rerun"]
    }
}

extension JSONBody {
    /// A boolean field; absent or `null` gives `nil`.
    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard case .bool(let flag) = value else { throw APIError.badBody("expected a boolean, not \(value.typeName)", path: "$.\(key)") }
        return flag
    }

    /// `debug: {break_before: [activity…]}` of a start.
    func breakBefore() throws(APIError) -> [String] {
        guard let debug = fields["debug"], !debug.isNull else { return [] }
        guard case .object(let members) = debug else { throw APIError.badBody("expected an object, not \(debug.typeName)", path: "$.debug") }
        if let unknown = members.keys.first(where: { $0 != "break_before" }) {
            throw APIError.badBody("unknown field (expected break_before)", path: "$.debug.\(unknown)")
        }
        guard let list = members["break_before"], !list.isNull else { return [] }
        guard case .array(let items) = list else {
            throw APIError.badBody("expected an array of activity names, not \(list.typeName)", path: "$.debug.break_before")
        }
        var names: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let name) = item, !name.isEmpty else {
                throw APIError.badBody("expected an activity name", path: "$.debug.break_before[\(index)]")
            }
            names.append(name)
        }
        return names
    }
}
