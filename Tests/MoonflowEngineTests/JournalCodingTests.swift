import MoonflowEngine
import MoonflowModel
import Testing

/// The typed journal at its edge: every payload is written and read back as itself, a row that
/// does not read back says why, and rows of the first format (no `format` member) still read.
@Suite struct JournalCodingTests {
    static let at = Timestamp(nanosecondsSinceEpoch: 1_800_000_000_123_456_789)
    static let failure = ActivityFailure(
        "PaymentDeclined", "card declined", retryable: false, details: ["code": 51, "tags": ["a"]], script: "charge", line: 7)

    static func event(_ payload: RunEvent.Payload, activity: String? = nil, attempt: Int? = nil) -> RunEvent {
        RunEvent(payload, runID: "run-1", workflow: "orders", activity: activity, attempt: attempt, at: at)
    }

    /// One event per case, and each optional member both present and absent.
    static let samples: [RunEvent] = [
        event(
            .runQueued(
                QueuedRun(
                    version: "1.2", definitionHash: "abc", input: ["order": ["id": 7]], context: ["count": 0, "note": nil],
                    activities: ["a", "b"], triggerEvent: ["type": "order.placed"], priority: -5, startHash: "hash",
                    origin: .schedule(tick: at), parent: ParentLink(runID: "parent", activity: "kid"),
                    queuePlace: QueuePlace(sequence: 42, deadline: at),
                    traceParent: TraceParent(header: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")))),
        event(.runQueued(QueuedRun(definitionHash: "abc", input: .null, activities: []))),
        event(
            .runQueued(
                QueuedRun(definitionHash: "abc", input: [:], activities: ["a"], origin: .event, queuePlace: QueuePlace(sequence: 0, deadline: nil)))),
        event(
            .runQueued(
                QueuedRun(definitionHash: "abc", input: [:], activities: ["a"], origin: .child, parent: ParentLink(runID: "p", activity: "a")))),
        event(.runStarted(deadline: at)), event(.runStarted(deadline: nil)),
        event(.runWaiting), event(.runResumed),
        event(.runFailing(cause: .failed, error: failure, activity: "charge")),
        event(.runFailing(cause: .timedOut, error: ActivityFailure(.timeout, "the workflow timeout passed"), activity: nil)),
        event(.runFailing(cause: .cancelled, error: failure, activity: nil)),
        event(.runFailing(cause: .terminated, error: failure, activity: nil)),
        event(
            .runCompensating(
                plan: [PlannedCompensation(activity: "b", handler: "undo_b"), PlannedCompensation(activity: "a", handler: "call:noop")],
                deadline: at)),
        event(.runCompensating(plan: [], deadline: nil)),
        event(.runCompleted(output: ["total": 12.5])), event(.runCompleted(output: .null)),
        event(.runFailed), event(.runTimedOut), event(.runCancelled), event(.runTerminated), event(.runCompensated), event(.runCompensationFailed),
        event(.runCompensationResumed(deadline: at, repin: Repin(definitionHash: "new", previousDefinitionHash: "old"))),
        event(.runCompensationResumed(deadline: nil, repin: nil)),
        event(.runPaused(.requested)), event(.runPaused(.breakpoint(activity: "b")), activity: "b"),
        event(.runPaused(.step(activity: "c")), activity: "c"),
        event(.runUnpaused(step: true)), event(.runUnpaused(step: false)),
        event(.runRedriven(deadline: at, repin: nil, activities: [])),
        event(.runRedriven(deadline: nil, repin: Repin(definitionHash: "new", previousDefinitionHash: "old"), activities: ["a", "b", "c"])),
        event(
            .runQueued(
                QueuedRun(
                    definitionHash: "abc", input: [:], activities: ["a", "b"], breakBefore: ["b"],
                    rerunOf: RerunSource(runID: "original", from: "b")))),
        event(.runNotification(RunNotification(status: .compensationFailed, channels: ["log"], recipients: ["ops"], error: failure))),
        event(.runNotification(RunNotification(status: .timedOut, channels: [], recipients: [], error: nil))),
        event(.activityScheduled(input: ["x": true]), activity: "a"),
        event(.activityStarted, activity: "a", attempt: 1),
        event(.activityRetrying(error: failure, nextAttemptAt: at + .seconds(2)), activity: "a", attempt: 1),
        event(.activityInterrupted, activity: "a", attempt: 2),
        event(.activityFallback(error: failure, notify: true), activity: "a"),
        event(.activityFallback(error: failure, notify: false), activity: "a"),
        event(.activityWaiting(.task(id: "run-1:a:1")), activity: "a", attempt: 1),
        event(.activityWaiting(.childRun(id: "run-1/a")), activity: "a", attempt: 1),
        event(.activityWaiting(.timer(until: at + .seconds(60))), activity: "a", attempt: 1),
        event(
            .activityCompleted(
                ActivityCompletion(
                    seq: 3, output: ["ok": true], attempts: 2, contextWrites: ["count": 1, "gone": nil],
                    emitted: [EmittedEvent(type: "order.paid", payload: ["id": 7]), EmittedEvent(type: "ping", payload: "text")],
                    rescued: failure)),
            activity: "a"),
        event(.activityCompleted(ActivityCompletion(seq: 1, output: .null, attempts: 1)), activity: "a"),
        event(.activityFailed(error: failure, attempts: 3), activity: "a"),
        event(.activitySkipped(.noIncomingEdge), activity: "a"),
        event(.activitySkipped(.whenFalse), activity: "a"),
        event(.activitySkipped(.fallback(error: failure, attempts: 2)), activity: "a"),
        event(.activityCancelled(error: ActivityFailure(.cancelled, "cancelled by an operator"), attempts: nil), activity: "a"),
        event(.activityCancelled(error: ActivityFailure(.cancelled, "cancelled"), attempts: 1), activity: "a"),
        event(.activityLog(ScriptLogEntry(level: "warn", message: "line\nbreak", fields: ["n": 1])), activity: "a", attempt: 1),
        event(.activityLog(ScriptLogEntry(level: "info", message: "plain")), activity: "a", attempt: 1),
        event(.compensationStarted, activity: "a", attempt: 1),
        event(.compensationCompleted(attempts: 1, output: ["undone": true], contextWrites: ["count": 0]), activity: "a"),
        event(.compensationCompleted(attempts: 2, output: nil, contextWrites: [:]), activity: "a"),
        event(.compensationFailed(error: failure, attempts: 5), activity: "a"),
        event(.compensationFailed(error: failure, attempts: nil), activity: "a"),
        event(
            .taskCreated(
                CreatedTask(
                    id: "run-1:a:1", tokenDigest: TaskToken.digest(of: "secret"), users: ["alice"], groups: ["buyers"],
                    form: ["type": "object"], due: at + .seconds(3600), reminders: [at + .seconds(60), at + .seconds(120)])),
            activity: "a", attempt: 1),
        event(
            .taskCreated(CreatedTask(id: "run-1:a:2", tokenDigest: "d", users: [], groups: [], form: nil, due: nil, reminders: [])),
            activity: "a", attempt: 2),
        event(.taskAssigned(id: "run-1:a:1", users: ["alice"], groups: []), activity: "a", attempt: 1),
        event(.taskReminded(id: "run-1:a:1", reminder: at + .seconds(60)), activity: "a", attempt: 1),
        event(.taskCompleted(id: "run-1:a:1", data: ["ok": true], user: "alice"), activity: "a", attempt: 1),
        event(.taskExpired(id: "run-1:a:1", error: ActivityFailure(.manualTaskTimeout, "late")), activity: "a", attempt: 1),
        event(.taskCancelled(id: "run-1:a:1"), activity: "a"),
        event(.circuit(breaker: "payments", from: .closed, to: .open), activity: "a"),
        event(.circuit(breaker: "payments", from: .open, to: .halfOpen)),
        event(.circuit(breaker: "payments", from: .halfOpen, to: .closed)),
        event(.deadLetterCreated(DeadLetterNotice(id: "dl-1", eventType: "order.placed", eventID: "e-1", errors: ["bad input"]))),
        event(.deadLetterCreated(DeadLetterNotice(id: "dl-2", eventType: "order.placed", eventID: nil, errors: []))),
        event(
            .notificationQueued(QueuedNotification(id: "run-1:9", channel: "ops", message: ["event": "run.failed", "recipients": ["oncall"]]))),
        event(.notificationDelivered(id: "run-1:9", channel: "ops", attempts: 2)),
        event(.notificationDeadLettered(id: "run-1:9", channel: "ops", attempts: 5, error: ActivityFailure(.httpError, "answered 503"))),
        event(.emitted(type: "order.paid", payload: ["id": 7])),
        event(.emitted(type: "ping", payload: [1, "two"])),
    ]

    @Test func everyPayloadReadsBackAsItself() throws {
        var types = Set<String>()
        for event in Self.samples {
            let text = event.journalValue.jsonString()
            #expect(try RunEvent(journalValue: try Value(json: text)) == event, "\(text)")
            types.insert(event.type.rawValue)
        }
        // Every type the engine has a name for, and the three of breakers.
        let named: [EventType] = [
            .runQueued, .runStarted, .runWaiting, .runResumed, .runFailing, .runCompensating, .runCompleted, .runFailed, .runTimedOut,
            .runCancelled, .runTerminated, .runCompensated, .runCompensationFailed, .runCompensationResumed, .runNotification,
            .runPaused, .runUnpaused, .runRedriven, .activityScheduled, .activityStarted, .activityRetrying, .activityInterrupted, .activityFallback, .activityWaiting,
            .activityCompleted, .activityFailed, .activitySkipped, .activityCancelled, .activityLog, .compensationStarted,
            .compensationCompleted, .compensationFailed, .taskCreated, .taskAssigned, .taskReminded, .taskCompleted, .taskExpired,
            .taskCancelled, .deadLetterCreated, .notificationQueued, .notificationDelivered, .notificationDeadLettered,
        ]
        #expect(types.isSuperset(of: named.map(\.rawValue) + ["circuit.opened", "circuit.half_open", "circuit.closed", "order.paid"]))
    }

    @Test func theAPIShapeIsTheJournalRowWithoutItsFormat() throws {
        let event = Self.event(.activityFailed(error: Self.failure, attempts: 3), activity: "a", attempt: 3)
        #expect(
            event.toValue().jsonString()
                == #"{"type":"activity.failed","run_id":"run-1","workflow":"orders","activity":"a","attempt":3,"at":1800000000123456789,"data":{"error":{"type":"PaymentDeclined","message":"card declined","retryable":false,"details":{"code":51,"tags":["a"]},"script":"charge","line":7},"attempts":3}}"#
        )
        #expect(event.journalValue.jsonString() == #"{"format":2,"# + event.toValue().jsonString().dropFirst())
        // An emitted event's data is its payload, whatever its shape.
        #expect(Self.event(.emitted(type: "ping", payload: "hi")).data == "hi")
    }

    @Test func aRowThatDoesNotReadBackSaysWhy() {
        func reason(_ json: String) -> String? {
            do {
                _ = try RunEvent(journalValue: try Value(json: json))
                return nil
            } catch {
                return "\(error)"
            }
        }
        let head = #""run_id":"r","workflow":"w","at":1"#
        #expect(reason(#"{"format":3,"type":"run.waiting",\#(head),"data":{}}"#) == "format 3 is not one this build of Moonflow reads (1 to 2)")
        #expect(reason("[1]") == "an entry is not a JSON object")
        #expect(reason(#"{"format":2,"type":"run.exploded",\#(head),"data":{}}"#) == "unknown event type 'run.exploded'")
        #expect(reason(#"{"format":2,"type":"run.waiting","run_id":"r","at":1,"data":{}}"#) == "workflow is missing")
        #expect(reason(#"{"format":2,"type":"run.waiting",\#(head),"data":[]}"#) == "data: expected an object, found array")
        #expect(
            reason(#"{"format":2,"type":"activity.completed",\#(head),"data":{"output":1,"attempts":1}}"#) == "data.seq is missing")
        #expect(
            reason(#"{"format":2,"type":"activity.failed",\#(head),"data":{"error":{"type":"X","message":"m"},"attempts":"3"}}"#)
                == "data.attempts: expected an integer, found string")
        #expect(
            reason(#"{"format":2,"type":"activity.failed",\#(head),"data":{"error":{"type":"X"},"attempts":3}}"#)
                == "data.error.message is missing")
        #expect(
            reason(#"{"format":2,"type":"run.failing",\#(head),"data":{"cause":"bored","error":{"type":"X","message":"m"}}}"#)
                == "data.cause: 'bored' is not a way a run ends")
        #expect(
            reason(#"{"format":2,"type":"activity.skipped",\#(head),"data":{"reason":"tired"}}"#) == "data.reason: 'tired' is not a reason to skip")
        #expect(
            reason(#"{"format":2,"type":"circuit.opened",\#(head),"data":{"breaker":"b","from":"open","to":"closed"}}"#)
                == "data.to: 'closed' is not what 'circuit.opened' says")
        let queued = #""version":null,"definition_hash":"h","input":{},"context":{},"activities":[],"event":null,"priority":0,"origin":"request""#
        #expect(
            reason(#"{"format":2,"type":"run.queued",\#(head),"data":{\#(queued),"queue":{"sequence":-1,"deadline":null}}}"#)
                == "data.queue.sequence: -1 is negative")
        #expect(
            reason(#"{"format":2,"type":"activity.completed",\#(head),"data":{"seq":1,"output":1,"attempts":1,"events":[{"payload":1}]}}"#)
                == "data.events[0].type is missing")
        // Members format 1 may lack are required in format 2.
        #expect(reason(#"{"format":2,"type":"activity.fallback",\#(head),"data":{"error":{"type":"X","message":"m"}}}"#) == "data.notify is missing")
    }

    @Test func rowsOfTheFirstFormatReadAsTheFoldAlwaysTookThem() throws {
        func read(_ type: String, _ data: Value, activity: String? = nil) throws -> RunEvent {
            var row: Value = ["type": .string(type), "run_id": "r", "workflow": "w", "at": 5, "data": data]
            if let activity, case .object(var members) = row {
                members["activity"] = .string(activity)
                row = .object(members)
            }
            return try RunEvent(journalValue: row)
        }
        // Before priorities, origins and start hashes were recorded.
        let queued = try read(
            "run.queued",
            [
                "definition_hash": "h", "input": [:], "context": [:], "activities": ["a"], "event": nil, "version": nil, "parent_run": "p",
                "parent_activity": "kid",
            ])
        let parent = ParentLink(runID: "p", activity: "kid")
        #expect(queued.payload == .runQueued(QueuedRun(definitionHash: "h", input: [:], activities: ["a"], origin: .child, parent: parent)))
        #expect(try read("run.compensating", ["plan": []]).payload == .runCompensating(plan: [], deadline: nil))
        let fallback = try read("activity.fallback", ["error": ["type": "X", "message": "m"]], activity: "a")
        #expect(fallback.payload == .activityFallback(error: ActivityFailure("X", "m"), notify: false))
        // Before tokens were kept as digests.
        let created = try read(
            "task.created", ["id": "r:a:1", "users": [], "groups": [], "token": "secret", "form": nil, "due": nil, "reminders": []], activity: "a")
        guard case .taskCreated(let task) = created.payload else { Issue.record("not a task: \(created)"); return }
        #expect(task.tokenDigest == TaskToken.digest(of: "secret"))
        #expect(created.data["token"] == nil)
    }
}
