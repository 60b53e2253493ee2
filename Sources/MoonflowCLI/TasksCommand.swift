import ArgumentParser
import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import OrderedCollections

/// `moonflow tasks …`: manual tasks kept in the store (docs/workflow-format.md, docs/cli.md).
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "List, show and complete manual tasks.",
        subcommands: [List.self, Show.self, Complete.self])

    /// `tasks list [--user U] [--status S]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tasks, oldest first.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Option(help: "Only tasks this user may complete (listed, or a task open to anyone).") var user: String?
        @Option(help: "Only tasks in this state: open, completed, expired, cancelled.") var status: String?

        func validate() throws {
            if let status, TaskStatus(rawValue: status) == nil {
                throw ValidationError("--status: unknown task state '\(status)' (open, completed, expired, cancelled)")
            }
        }

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                let answer = try await remote.call(.GET, "/v1/tasks?status=\(status ?? "open")")
                let tasks = (answer["tasks"]?.arrayValue ?? []).filter { task in
                    guard let user else { return true }
                    let users = task["users"]?.arrayValue ?? []
                    return users.contains(.string(user)) || (users.isEmpty && task["groups"]?.arrayValue?.isEmpty != false)
                }
                return remote.printItems(.array(tasks), key: nil, global.format) { task in
                    ["id", "run_id", "activity", "status", "due"].map { task[$0]?.stringValue ?? "-" }.joined(separator: "  ")
                }
            }
            let store = try await Composition.runtime(global, storage).store
            let tasks = try await store.tasks(status: status.flatMap(TaskStatus.init(rawValue:))).filter { task in
                user.map { task.users.contains($0) || (task.users.isEmpty && task.groups.isEmpty) } ?? true
            }
            switch global.format {
            case .json: Swift.print(Value.array(tasks.map { $0.listValue }).jsonString(pretty: true))
            case .text:
                TextTable.print(
                    tasks.map { task in
                        [task.id, task.status.rawValue, "run \(task.runID)", task.activity, "users \(task.users.joined(separator: ","))"]
                            + (task.due.map { ["due \($0.iso8601)"] } ?? [])
                    })
            }
        }
    }

    /// `tasks show ID`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a task: assignees, form, due, token digest, submitted data.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The task id.") var id: String

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                let answer = try await remote.call(.GET, "/v1/tasks/\(RemoteServer.segment(id))")
                return remote.printItems(answer, key: nil, global.format) { $0.jsonString(pretty: true) }
            }
            let store = try await Composition.runtime(global, storage).store
            guard let task = try await store.task(id: id) else {
                printError("error: no task '\(id)'")
                throw MoonflowExit.usage
            }
            var value = task.listValue.objectValue ?? [:]
            value["token_sha256"] = .string(task.tokenDigest)
            value["form"] = task.form ?? .null
            value["reminders"] = .array(task.reminders.map { .string($0.iso8601) })
            value["completed_by"] = task.completedBy.map(Value.string) ?? .null
            value["data"] = task.data ?? .null
            switch global.format {
            case .json: Swift.print(Value.object(value).jsonString(pretty: true))
            case .text:
                for (key, field) in value { Swift.print("\(key): \(field.stringValue ?? field.jsonString())") }
            }
        }
    }

    /// `tasks complete ID --data JSON --user U`.
    struct Complete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Complete a task with the submitted data (validated against its form), then continue its run.",
            discussion: """
                Only an assignee may complete a task (a task without assignees is open to anyone). The first \
                completion wins; repeating it with the same data changes nothing and exits 0, other data is told \
                already_completed (exit 1). Exit status: 0 completed, 1 refused (invalid data, not an assignee, \
                expired, completed with other data), 2 unknown task or usage error.
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The task id.") var id: String
        @Option(help: "The submitted data, as JSON.") var data: String
        @Option(help: "Who completes it (default: $USER).") var user: String?
        @Option(name: .customLong("group"), help: "A group the user belongs to (repeatable).") var groups: [String] = []

        func run() async throws {
            let submitted = try CLIScriptSupport.json(data, flag: "--data")
            if let remote = Composition.remote(global, storage) {
                // Through a server the token's identity completes it (--user and --group are the store's).
                let answer = try await remote.call(.POST, "/v1/tasks/\(RemoteServer.segment(id))/complete", ["data": submitted])
                let runStatus = answer["run_status"]?.stringValue ?? "unknown"
                let document: Value = ["task": .string(id), "status": "completed", "run_id": answer["run_id"] ?? .null, "run_status": .string(runStatus)]
                switch global.format {
                case .json: Swift.print(document.jsonString(pretty: true))
                case .text: Swift.print("task \(id) completed; run \(answer["run_id"]?.stringValue ?? "?") is \(runStatus)")
                }
                return
            }
            let runtime = try await Composition.runtime(global, storage)
            let (engine, store) = (runtime.engine, runtime.store)
            let name = user ?? ProcessInfo.processInfo.environment["USER"] ?? ""
            let status: RunStatus
            do {
                status = try await engine.completeTask(id, data: submitted, user: TaskUser(name, groups: groups))
            } catch let error as TaskCompletionError {
                // Repeating the completion that won (same data) is a success that changes nothing;
                // other data is refused, as the API answers 409.
                if case .alreadyCompleted = error, let task = try await store.task(id: id), task.data == submitted {
                    report(task, status: try await store.state(of: task.runID)?.status)
                    return
                }
                let document: Value = ["error": ["code": .string(error.code), "message": .string(error.description)]]
                switch global.format {
                case .json: Swift.print(document.jsonString(pretty: true))
                case .text: printError("error[\(error.code)]: \(error)")
                }
                switch error {
                case .notFound: throw MoonflowExit.usage
                case .alreadyCompleted, .notOpen, .notAssignee, .invalid: throw MoonflowExit.failure
                }
            }
            guard let task = try await store.task(id: id) else { return }
            report(task, status: status)
        }

        private func report(_ task: TaskRecord, status: RunStatus?) {
            let runStatus = status?.rawValue ?? "unknown"
            let document: Value = ["task": .string(id), "status": "completed", "run_id": .string(task.runID), "run_status": .string(runStatus)]
            switch global.format {
            case .json: Swift.print(document.jsonString(pretty: true))
            case .text: Swift.print("task \(id) completed; run \(task.runID) is \(runStatus)")
            }
        }
    }
}

extension TaskRecord {
    fileprivate var listValue: Value {
        [
            "id": .string(id), "run_id": .string(runID), "activity": .string(activity), "attempt": .int(Int64(attempt)),
            "status": .string(status.rawValue), "users": .array(users.map(Value.string)), "groups": .array(groups.map(Value.string)),
            "created_at": .string(createdAt.iso8601), "due": due.map { .string($0.iso8601) } ?? .null,
        ]
    }
}
