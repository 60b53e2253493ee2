import Foundation
import GRDB
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import MoonflowStore
import Testing

/// A store written before the journal was typed (`Fixtures/JournalV1`, made by the binary of
/// d27ec4c): this build reads every row of it back as it was written, folds every run to what
/// that binary reported, and continues the run it left waiting.
@Suite struct JournalV1FixtureTests {
    static let folder = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/JournalV1")

    /// A copy of the fixture's project and store, so the committed file is never written.
    static func copy() throws -> StoreFixture {
        let fixture = try StoreFixture()
        let files = FileManager.default
        try files.removeItem(at: fixture.directory)
        try files.copyItem(at: folder.appendingPathComponent("project"), to: fixture.directory)
        try files.createDirectory(at: fixture.directory.appendingPathComponent(".moonflow"), withIntermediateDirectories: true)
        try files.copyItem(atPath: folder.appendingPathComponent("state.db").path, toPath: fixture.storePath)
        return fixture
    }

    /// The journal rows as stored: run, position, JSON text.
    static func rows(_ path: String) throws -> [(run: String, seq: Int, text: String)] {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT run_id, seq, event FROM journal ORDER BY run_id, seq").map { ($0["run_id"], $0["seq"], $0["event"]) }
        }
    }

    /// What the old binary printed for `command` (`outputs.txt`: a `$ moonflow …` line, the output, `[exit N]`).
    static func printed(_ command: String) throws -> String {
        let text = try String(contentsOf: folder.appendingPathComponent("outputs.txt"), encoding: .utf8)
        let start = try #require(text.range(of: "$ moonflow \(command)\n"))
        let end = try #require(text.range(of: "[exit ", range: start.upperBound..<text.endIndex))
        return String(text[start.upperBound..<end.lowerBound])
    }

    @Test func everyRowReadsBackAsTheTextItWasWrittenAs() throws {
        let fixture = try Self.copy()
        var types = Set<String>()
        for row in try Self.rows(fixture.storePath) {
            let value = try Value(json: row.text)
            #expect(value["format"] == nil, "a row of the first format")
            let event = try RunEvent(journalValue: value)
            #expect(event.toValue().jsonString() == row.text, "\(row.run) #\(row.seq)")
            types.insert(event.type.rawValue)
        }
        // The fixture holds every type the engine journals.
        let journaled: [EventType] = [
            .runQueued, .runStarted, .runWaiting, .runResumed, .runFailing, .runCompensating, .runCompleted, .runFailed, .runTimedOut,
            .runCancelled, .runTerminated, .runCompensated, .runCompensationFailed, .runCompensationResumed, .activityScheduled,
            .activityStarted, .activityRetrying, .activityInterrupted, .activityFallback, .activityWaiting, .activityCompleted,
            .activityFailed, .activitySkipped, .activityCancelled, .activityLog, .compensationStarted, .compensationCompleted,
            .compensationFailed, .taskCreated, .taskAssigned, .taskReminded, .taskCompleted, .taskExpired, .taskCancelled,
        ]
        #expect(types == Set(journaled.map(\.rawValue) + ["circuit.opened"]))
    }

    @Test func everyRunFoldsToWhatTheOldBinaryReported() async throws {
        let fixture = try Self.copy()
        let store = try fixture.open()
        try await expectConsistent(store)
        let engine = fixture.engine(store)
        let runs = try await store.runs(status: nil)
        #expect(runs.count == 16)
        for run in runs {
            let report = try await engine.report(run.id)
            #expect(report.toValue().jsonString(pretty: true) + "\n" == (try Self.printed("runs show \(run.id) --format json")), "\(run.id)")
        }
    }

    /// `hasTimers` (what the in-memory store asks on every write) agrees with `timers` at every
    /// step of every stored run: sleeps, task reminders and due dates, deadlines, the queue.
    @Test func hasTimersAgreesWithTimersAtEveryStepOfEveryRun() async throws {
        let fixture = try Self.copy()
        let store = try fixture.open()
        var withTimers = 0
        for run in try await store.runs(status: nil) {
            let journal = try await store.journal(of: run.id)
            var state = try #require(RunState(queuedBy: journal[0]))
            for event in journal.dropFirst() {
                state.apply(event)
                #expect(state.hasTimers == !state.timers.isEmpty, "\(run.id) after \(event.type)")
                if state.hasTimers { withTimers += 1 }
            }
        }
        #expect(withTimers > 0)
    }

    @Test func theRunLeftWaitingContinuesToTheEnd() async throws {
        let fixture = try Self.copy()
        let store = try fixture.open()
        let before = try await store.journal(of: "inbox-open")
        let clock = ManualClock(now: try #require(before.last).at + .seconds(60))
        let engine = try Runtime.make(
            RuntimeOptions(
                project: fixture.directory, store: .existing(store), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                clock: clock)
        ).engine
        #expect(try await store.state(of: "inbox-open")?.status == .waiting)
        #expect(try await engine.completeTask("inbox-open:review:1", data: ["ok": true], user: TaskUser("alice")) == .completed)
        let report = try await engine.report("inbox-open")
        #expect(report.output == ["seen": ["ok": true]])
        try await expectConsistent(store)
        // Old rows stay as they were; new ones are written in the current format.
        let rows = try Self.rows(fixture.storePath).filter { $0.run == "inbox-open" }
        #expect(rows.prefix(before.count).allSatisfy { !$0.text.contains(#""format""#) })
        #expect(rows.dropFirst(before.count).allSatisfy { $0.text.hasPrefix(#"{"format":2,"#) })
        #expect(rows.count > before.count)
    }

    @Test func aRowThatDoesNotReadBackIsAClearError() async throws {
        let original = try Self.copy()
        let length = try Self.rows(original.storePath).filter { $0.run == "fail-1" }.count
        let head = #""run_id":"fail-1","workflow":"plain_fail","at":1"#
        let bad = [
            (#"{"format":3,"type":"run.waiting",\#(head),"data":{}}"#, "format 3 is not one this build of Moonflow reads (1 to 2)"),
            (#"{"format":2,"type":"activity.completed",\#(head),"activity":"boom","data":{"output":1,"attempts":1}}"#, "data.seq is missing"),
            ("{not json", "not JSON"),
        ]
        for (text, reason) in bad {
            let copy = try Self.copy()
            let queue = try DatabaseQueue(path: copy.storePath)
            try await queue.write { db in
                try db.execute(
                    sql: "INSERT INTO journal (run_id, seq, type, activity, attempt, at, event) VALUES ('fail-1', ?, 'x', NULL, NULL, 1, ?)",
                    arguments: [length + 1, text])
            }
            try queue.close()
            let store = try copy.open()
            do {
                _ = try await store.state(of: "fail-1")
                Issue.record("\(text) was read")
            } catch let error as StoreDataError {
                guard case .badJournalEntry(let run, let seq, let why) = error else { throw error }
                #expect(run == "fail-1")
                #expect(seq == length + 1)
                #expect(why.hasPrefix(reason), "\(why)")
                #expect("\(error)".hasPrefix("run 'fail-1': journal entry \(length + 1) does not read back: \(reason)"))
            }
            // The other runs are untouched.
            #expect(try await store.state(of: "saga-1")?.status == .compensated)
        }
    }
}
