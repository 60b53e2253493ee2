import Foundation
import MoonflowModel
import OrderedCollections

/// What the `runs` and `dead-letters` commands do through a running server's API
/// (`Composition.remote`): the same answers and exit codes as on the store, read from the routes
/// of docs/api.md. A report-printing command waits (two minutes at most) until the server has
/// driven the run to an end, a wait or a pause, as the command would have in this process.
extension RemoteServer {
    /// Prints a run's report; with `exits`, exits as its status says (`moonflow run`'s codes).
    func printReport(of runID: String, _ format: OutputFormat, settle: Bool = true, exits: Bool = true) async throws {
        let report = settle ? try await settledReport(runID) : try await call(.GET, "/v1/runs/\(Self.segment(runID))/report")
        switch format {
        case .json: print(report.jsonString(pretty: true))
        case .text: print(ExecutionReport(reportValue: report)?.renderText() ?? report.jsonString(pretty: true))
        }
        switch RunStatus(rawValue: report["status"]?.stringValue ?? "") {
        case .completed?, .compensated?: return
        case .paused?, .waiting?, .queued?: throw MoonflowExit.waiting
        default: throw MoonflowExit.failure
        }
    }

    /// `runs list` through the API: every page, oldest first as the store lists them.
    func listRuns(status: String?, workflow: String?, _ format: OutputFormat) async throws {
        var runs: [Value] = []
        var cursor: String?
        repeat {
            var query = ["limit=500"]
            if let status { query.append("status=\(status)") }
            if let workflow { query.append("workflow=\(Self.segment(workflow))") }
            if let cursor { query.append("after=\(Self.segment(cursor))") }
            let page = try await call(.GET, "/v1/runs?" + query.joined(separator: "&"))
            runs += page["runs"]?.arrayValue ?? []
            cursor = page["next"]?.stringValue
        } while cursor != nil
        runs.reverse()
        switch format {
        case .json: print(Value.array(runs).jsonString(pretty: true))
        case .text:
            TextTable.print(runs.map { run in ["run_id", "workflow", "status", "queued_at"].map { run[$0]?.stringValue ?? "" } })
        }
    }

    /// An answer printed as it came (JSON), or each of its items as one line of text.
    func printItems(_ value: Value, key: String?, _ format: OutputFormat, line: (Value) -> String) {
        let items = key.flatMap { value[$0]?.arrayValue } ?? value.arrayValue ?? [value]
        switch format {
        case .json: print((key.flatMap { value[$0] } ?? value).jsonString(pretty: true))
        case .text: for item in items { print(SafeText.escapingControls(line(item))) }
        }
    }
}

extension ExecutionReport {
    /// A report read back from its JSON (`toValue()`, as the API answers it); `nil` when a member
    /// it needs is missing.
    init?(reportValue value: Value) {
        guard let runID = value["run_id"]?.stringValue, let workflow = value["workflow"]?.stringValue,
            let status = value["status"]?.stringValue.flatMap(RunStatus.init(rawValue:))
        else { return nil }
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func time(_ member: Value?) -> Timestamp? { member?.stringValue.flatMap { parser.date(from: $0) }.map(Timestamp.init) }
        func error(_ member: Value?) -> ErrorInfo? {
            guard let type = member?["type"]?.stringValue else { return nil }
            return ErrorInfo(
                type: type, message: member?["message"]?.stringValue ?? "", activity: member?["activity"]?.stringValue, details: member?["details"])
        }
        let activities = (value["activities"]?.arrayValue ?? []).map { entry in
            ActivityEntry(
                name: entry["name"]?.stringValue ?? "", status: entry["status"]?.stringValue.flatMap(ActivityStatus.init(rawValue:)) ?? .pending,
                attempts: Int(entry["attempts"]?.intValue ?? 0), startedAt: time(entry["started_at"]), finishedAt: time(entry["finished_at"]),
                input: entry["input"], output: entry["output"].flatMap { $0.isNull ? nil : $0 }, error: error(entry["error"]), seq: entry["seq"]?.intValue.map(Int.init),
                viaFallback: entry["via_fallback"]?.boolValue ?? false)
        }
        let compensations = (value["compensations"]?.arrayValue ?? []).map { entry in
            CompensationEntry(
                activity: entry["activity"]?.stringValue ?? "", handler: entry["handler"]?.stringValue ?? "",
                status: entry["status"]?.stringValue.flatMap(CompensationStatus.init(rawValue:)) ?? .pending,
                attempts: Int(entry["attempts"]?.intValue ?? 0), error: error(entry["error"]))
        }
        let tasks = (value["tasks"]?.arrayValue ?? []).map { task in
            TaskEntry(
                id: task["id"]?.stringValue ?? "", activity: task["activity"]?.stringValue ?? "",
                status: task["status"]?.stringValue.flatMap(TaskStatus.init(rawValue:)) ?? .open,
                users: task["assignees"]?["users"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                groups: task["assignees"]?["groups"]?.arrayValue?.compactMap(\.stringValue) ?? [], due: time(task["due"]))
        }
        self.init(
            runID: runID, workflow: workflow, version: value["version"]?.stringValue, definitionHash: value["definition_hash"]?.stringValue ?? "",
            status: status, startedAt: time(value["started_at"]), finishedAt: time(value["finished_at"]), input: value["input"] ?? .null,
            context: value["context"]?.objectValue ?? [:], output: value["output"].flatMap { $0.isNull ? nil : $0 }, error: error(value["error"]),
            activities: activities, compensations: compensations, tasks: tasks, events: Int(value["events"]?.intValue ?? 0))
        pauseReason = value["paused"]?["reason"]?.stringValue
        pausedBefore = value["paused"]?["before"]?.stringValue
        rerunOf = value["rerun_of"]?.stringValue
    }
}
