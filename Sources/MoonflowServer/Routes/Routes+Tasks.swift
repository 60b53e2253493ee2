import Hummingbird
import MoonflowEngine
import MoonflowModel
import OrderedCollections

/// `/v1/tasks`: the caller's manual tasks (docs/workflow-format.md, docs/api.md). A `user` sees and completes only the
/// tasks assigned to them or one of their groups; operators and admins see every task, and
/// complete only those assigned to them too. A task the caller may not see is a 404.
enum TaskRoutes {
    static func add(to router: Router<APIContext>, core: ServerCore) {
        router.get("/v1/tasks") { request, context in
            let principal = try context.require(.tasks)
            let statusText = request.uri.queryParameters["status"].map(String.init) ?? "open"
            var status: TaskStatus?
            if statusText != "all" {
                guard let parsed = TaskStatus(rawValue: statusText) else {
                    throw APIError.badBody("expected all or one of \(TaskStatus.allCases.map(\.rawValue).joined(separator: ", "))", path: "query.status")
                }
                status = parsed
            }
            let tasks = try await core.store.tasks(status: status).filter { principal.seesAllTasks || principal.isAssignee(of: $0) }
            return JSONResponse.make(["tasks": .array(tasks.map(\.apiValue))])
        }
        router.get("/v1/tasks/{id}") { _, context in
            JSONResponse.make(try await visibleTask(context, core).apiValue)
        }
        router.post("/v1/tasks/{id}/complete") { request, context in
            let task = try await visibleTask(context, core)
            let body = try await JSONBody(request, allowed: ["data"])
            let principal = try context.require(.tasks)
            guard principal.isAssignee(of: task) else {
                throw APIError(.forbidden, "not_assignee", "only an assignee of task '\(task.id)' may complete it")
            }
            let status = try await core.engine.completeTask(task.id, data: try body.object("data"), user: principal.taskUser(for: task))
            return JSONResponse.make(["task_id": .string(task.id), "run_id": .string(task.runID), "run_status": .string(status.rawValue)])
        }
    }

    private static func visibleTask(_ context: APIContext, _ core: ServerCore) async throws -> TaskRecord {
        let principal = try context.require(.tasks)
        let id = try context.pathID()
        guard let task = try await core.store.task(id: id), principal.seesAllTasks || principal.isAssignee(of: task) else {
            throw APIError.notFound("no task '\(id)'")
        }
        return task
    }
}

extension TaskRecord {
    /// The task without its token (the bearer token authorises completion through the API).
    var apiValue: Value {
        [
            "id": .string(id), "run_id": .string(runID), "activity": .string(activity), "attempt": .int(Int64(attempt)),
            "status": .string(status.rawValue), "users": .array(users.map(Value.string)), "groups": .array(groups.map(Value.string)),
            "form": form ?? .null, "created_at": .string(createdAt.iso8601), "due": due.map { .string($0.iso8601) } ?? .null,
            "reminders": .array(reminders.map { .string($0.iso8601) }),
            "completed_by": completedBy.map(Value.string) ?? .null, "data": data ?? .null,
        ]
    }
}
