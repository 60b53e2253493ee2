import Foundation
import MoonflowModel
import Testing

/// `moonflow runs resume` with no id — the documented recovery path (docs/durability.md) — on
/// stores holding every kind of unfinished run, and what `moonflow` says about a damaged WAL.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ResumeCommandTests {
    @Test func bareResumeDrivesRunningAndQueuedRuns() async throws {
        let project = try CrashProject()
        await #expect(try project.moonflow(["run", "linear", "--run-id", "r1"], failpoints: "during:activity_body:b").status == 137)
        await #expect(try project.moonflow(["run", "linear", "--run-id", "q1"], failpoints: "after_commit:run_queued").status == 137)
        #expect(try await project.states().map(\.status) == [.running, .queued])
        let resumed = try await project.moonflow(["runs", "resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout == "r1  completed\nq1  completed\n")
        #expect(try await project.states().map(\.status) == [.completed, .completed])
        try await project.expectConsistent()
    }

    @Test func bareResumeWithoutAConfigurationDrivesEveryKindOfUnfinishedRun() async throws {
        let project = try CrashProject()
        try FileManager.default.removeItem(at: project.directory.appendingPathComponent("moonflow.yaml"))
        await #expect(try project.moonflow(["run", "linear", "--run-id", "r1"], failpoints: "during:activity_body:b").status == 137)
        await #expect(try project.moonflow(["run", "saga", "--run-id", "s1"], failpoints: "after_commit:compensation_completed:c").status == 137)
        await #expect(try project.moonflow(["run", "approval", "--run-id", "t1"]).status == 3)
        await #expect(try project.moonflow(["run", "linear", "--run-id", "q1"], failpoints: "after_commit:run_queued").status == 137)
        let resumed = try await project.moonflow(["runs", "resume", "--format", "json"])
        // s1 ends compensated, so not every run completed: exit 1, and a line for each run.
        #expect(resumed.status == 1, "\(resumed.stderr)")
        let lines = try Value(json: resumed.stdout).arrayValue ?? []
        let statuses = Dictionary(uniqueKeysWithValues: lines.compactMap { line in
            line["run_id"]?.stringValue.map { ($0, line["status"]?.stringValue ?? "error") }
        })
        #expect(statuses == ["r1": "completed", "s1": "compensated", "t1": "waiting", "q1": "completed"])
        try await project.expectConsistent()
        // Nothing unfinished but a run waiting on a human: resuming again changes nothing.
        let again = try await project.moonflow(["runs", "resume"])
        #expect(again.status == 3, "\(again.stderr)")
        #expect(again.stdout == "t1  waiting\n")
    }

    @Test func bareResumeOnAStoreWithNothingUnfinishedSaysNothing() async throws {
        let project = try CrashProject()
        await #expect(try project.moonflow(["run", "linear", "--run-id", "l1"]).status == 0)
        let resumed = try await project.moonflow(["runs", "resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.isEmpty)
    }
}
