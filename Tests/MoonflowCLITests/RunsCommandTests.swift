import Foundation
import MoonflowModel
import Testing

/// `moonflow runs …` and `moonflow tasks …` against a store file, and against a PostgreSQL
/// database, which they read and write directly (docs/cli.md, docs/scale-out.md).
@Suite(.timeLimit(.minutes(1))) struct RunsCommandTests {
    @Test(arguments: CrashStore.allCases)
    func listShowHistoryAndCancelAWaitingRun(_ kind: CrashStore) async throws {
        let project = try await CrashProject.make(kind)
        await #expect(try project.moonflow(["run", "approval", "--run-id", "w1"]).status == 3)
        await #expect(try project.moonflow(["run", "linear", "--run-id", "l1"]).status == 0)

        let all = try await project.moonflow(["runs", "list"])
        #expect(all.status == 0)
        #expect(all.stdout.contains("w1  approval  waiting"))
        #expect(all.stdout.contains("l1  linear    completed") || all.stdout.contains("l1  linear  completed"))
        let waiting = try await Value(json: try project.moonflow(["runs", "list", "--status", "waiting", "--format", "json"]).stdout)
        #expect(waiting.arrayValue?.compactMap { $0["run_id"]?.stringValue } == ["w1"])
        await #expect(try project.moonflow(["runs", "list", "--status", "sleepy"]).status == 2)

        let report = try await Value(json: try project.moonflow(["runs", "show", "l1", "--format", "json"]).stdout)
        #expect(report["status"] == "completed")
        #expect(report["activities"]?.arrayValue?.count == 3)
        await #expect(try project.moonflow(["runs", "show", "nope"]).status == 2)

        let history = try await Value(json: try project.moonflow(["runs", "history", "l1", "--format", "json"]).stdout)
        let types = history.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []
        #expect(types.first == "run.queued")
        #expect(types.last == "run.completed")
        let text = try await project.moonflow(["runs", "history", "l1"]).stdout
        #expect(text.contains("activity.started  b  attempt 1"))

        let cancelled = try await project.moonflow(["runs", "cancel", "w1", "--format", "json"])
        #expect(cancelled.status == 0)
        #expect(try Value(json: cancelled.stdout)["status"] == "cancelled")
        let task = try await Value(json: try project.moonflow(["tasks", "show", "w1:ask:1", "--format", "json"]).stdout)
        #expect(task["status"] == "cancelled")
    }

    @Test(arguments: CrashStore.allCases)
    func tasksAreListedAndCompletedOnlyByAssigneesWithValidData(_ kind: CrashStore) async throws {
        let project = try await CrashProject.make(kind)
        await #expect(try project.moonflow(["run", "approval", "--run-id", "t1"]).status == 3)
        let open = try await Value(json: try project.moonflow(["tasks", "list", "--status", "open", "--user", "alice", "--format", "json"]).stdout)
        #expect(open.arrayValue?.compactMap { $0["id"]?.stringValue } == ["t1:ask:1"])
        await #expect(try project.moonflow(["tasks", "list", "--user", "bob"]).stdout.isEmpty)

        let stranger = try await project.moonflow(["tasks", "complete", "t1:ask:1", "--user", "bob", "--data", #"{"ok": true}"#])
        #expect(stranger.status == 1)
        #expect(stranger.stderr.contains("not_assignee"))
        let invalid = try await project.moonflow(["tasks", "complete", "t1:ask:1", "--user", "alice", "--data", #"{"ok": "yes"}"#])
        #expect(invalid.status == 1)
        #expect(invalid.stderr.contains("invalid"))
        let done = try await project.moonflow(["tasks", "complete", "t1:ask:1", "--user", "alice", "--data", #"{"ok": true}"#])
        #expect(done.status == 0)
        #expect(done.stdout.contains("run t1 is completed"))
        // Other data after the completion is refused like the API's 409 (issue 13): exit 1.
        let again = try await project.moonflow(["tasks", "complete", "t1:ask:1", "--user", "alice", "--data", #"{"ok": false}"#])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already_completed"))
        await #expect(try project.moonflow(["tasks", "complete", "nope", "--user", "alice", "--data", "{}"]).status == 2)
        let report = try await Value(json: try project.moonflow(["runs", "show", "t1", "--format", "json"]).stdout)
        #expect(report["output"] == ["ok": true])
    }

    @Test func resumeCompensationContinuesACompensationFailedRun() async throws {
        let project = try CrashProject()
        await #expect(try project.moonflow(["runs", "resume-compensation", "nope"]).status == 2)
        await #expect(try project.moonflow(["run", "linear", "--run-id", "l1"]).status == 0)
        let refused = try await project.moonflow(["runs", "resume-compensation", "l1"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("only a compensation_failed run"))
    }
}
