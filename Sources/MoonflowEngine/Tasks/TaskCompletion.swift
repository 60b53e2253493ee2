package import MoonflowModel

/// Who completes a manual task: a user name and the groups the caller's authentication vouches for.
package struct TaskUser: Sendable, Hashable {
    package var name: String
    package var groups: [String]
    package init(_ name: String, groups: [String] = []) {
        self.name = name
        self.groups = groups
    }
}

/// Why a task completion was refused; the task is unchanged.
package enum TaskCompletionError: Error, Sendable, Hashable, CustomStringConvertible {
    case notFound(String)
    /// The first completion won (docs/workflow-format.md); `by` is who made it.
    case alreadyCompleted(taskID: String, by: String?)
    /// The task expired or its run was cancelled.
    case notOpen(taskID: String, status: TaskStatus)
    case notAssignee(taskID: String, user: String)
    /// The submitted data does not satisfy the task's `form`.
    case invalid(taskID: String, errors: [String])

    /// A stable code for the CLI and the API.
    package var code: String {
        switch self {
        case .notFound: "not_found"
        case .alreadyCompleted: "already_completed"
        case .notOpen: "not_open"
        case .notAssignee: "not_assignee"
        case .invalid: "invalid"
        }
    }

    package var description: String {
        switch self {
        case .notFound(let id): "no task '\(id)'"
        case .alreadyCompleted(let id, let by): "task '\(id)' is already completed\(by.map { " by \($0)" } ?? "")"
        case .notOpen(let id, let status): "task '\(id)' is \(status)"
        case .notAssignee(let id, let user): "\(user) is not an assignee of task '\(id)'"
        case .invalid(let id, let errors): "task '\(id)': \(errors.joined(separator: "; "))"
        }
    }
}

extension TaskRecord {
    func checkOpen() throws(TaskCompletionError) {
        switch status {
        case .open: return
        case .completed: throw .alreadyCompleted(taskID: id, by: completedBy)
        case .expired, .cancelled: throw .notOpen(taskID: id, status: status)
        }
    }

    /// Anyone may complete a task with no assignees; otherwise a listed user or a member of a listed group.
    func isAssignee(_ user: TaskUser) -> Bool {
        (users.isEmpty && groups.isEmpty) || users.contains(user.name) || user.groups.contains(where: groups.contains)
    }
}
