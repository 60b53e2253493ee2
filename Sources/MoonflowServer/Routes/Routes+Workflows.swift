import Hummingbird
import MoonflowLoader
import MoonflowModel
import MoonflowRuntime
import OrderedCollections

/// `/v1/workflows`: what is served, every version seen, and the errors of the last load.
enum WorkflowRoutes {
    static func add(to router: Router<APIContext>, core: ServerCore) {
        router.get("/v1/workflows") { _, context in
            _ = try context.require(.read)
            return JSONResponse.make([
                "workflows": .array(core.catalog.workflows.map { summary($0, catalog: core.catalog) }),
                "errors": .array(core.catalog.diagnostics.map(\.apiValue)),
            ])
        }
        router.get("/v1/workflows/{id}") { _, context in
            _ = try context.require(.read)
            let id = try context.pathID()
            let versions = core.catalog.versions(of: id)
            let current = core.catalog.current(id)
            guard current != nil || !versions.isEmpty else { throw APIError.notFound("no workflow '\(id)'") }
            var body: OrderedDictionary<String, Value> = ["id": .string(id)]
            if let current {
                body = summary(current, catalog: core.catalog).objectValue ?? body
                body["files"] = .object(current.files.mapValues(Value.string))
                // What the console draws and the form it starts a run with.
                body["graph"] = current.workflow.graphValue
                body["input_schema"] = current.workflow.input?.schema ?? .null
            } else {
                body["deleted"] = true
            }
            body["versions"] = .array(
                versions.map { version in
                    [
                        "hash": .string(version.hash), "version": version.label.map(Value.string) ?? .null,
                        "loaded_at": .string(version.loadedAt.iso8601), "current": .bool(version.hash == current?.contentHash),
                    ]
                })
            // Errors of the last load that are in this workflow's file (the old version keeps serving).
            let file = current?.file ?? "workflows/\(id)"
            body["errors"] = .array(core.catalog.diagnostics.filter { $0.location.file.hasPrefix(file) }.map(\.apiValue))
            return JSONResponse.make(.object(body))
        }
    }

    static func summary(_ loaded: LoadedWorkflow, catalog: LiveCatalog) -> Value {
        let workflow = loaded.workflow
        return [
            "id": .string(workflow.id), "version": workflow.version.map(Value.string) ?? .null,
            "description": workflow.description.map(Value.string) ?? .null, "hash": .string(loaded.contentHash),
            "file": .string(loaded.file), "triggers": .array(workflow.triggers.map(\.apiValue)),
            "activities": .array(workflow.activities.map { .string($0.name) }),
            "versions": .int(Int64(catalog.versions(of: workflow.id).count)),
        ]
    }
}

extension Diagnostic {
    /// `{file, line, column, code, message, hint, text}`; `text` is the `file:line:col: error[CODE]: message` line.
    var apiValue: Value {
        [
            "file": .string(location.file), "line": .int(Int64(location.line)), "column": .int(Int64(location.column)),
            "code": .string(code.rawValue), "message": .string(message), "hint": hint.map(Value.string) ?? .null,
            "text": .string(description),
        ]
    }
}

extension Trigger {
    var apiValue: Value {
        switch kind {
        case .manual: ["manual": [:]]
        case .event(let type, let conditions): ["event": .string(type), "conditions": .object(conditions)]
        case .schedule(let cron, let timezone): ["schedule": ["cron": .string(cron), "timezone": timezone.map(Value.string) ?? .null]]
        }
    }
}
