package import MoonflowModel
import OrderedCollections

/// Why a stored event does not read back: a member missing or of the wrong type, an unknown
/// event type, or a `format` newer than this build reads.
package struct JournalEntryError: Error, Sendable, Hashable, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}

extension RunEvent {
    /// Reads back what a store kept (`journalValue`). A row without `format` is format 1, written
    /// before the journal was typed: the same members, but a store from an older build may lack
    /// some added since, which read as the fold always took them (`priority` 0, `origin` from the
    /// parent link, no `notify`, no compensation deadline) and a task's plain `token` as its digest.
    /// Rows are read as they are, never rewritten: the journal is append-only.
    package init(journalValue value: Value) throws(JournalEntryError) {
        guard case .object(let members) = value else { throw JournalEntryError("an entry is not a JSON object") }
        let top = JournalReader(members, path: "", legacy: false)
        let format = try top.optionalInt("format") ?? 1
        guard (1...Self.journalFormat).contains(format) else {
            throw JournalEntryError("format \(format) is not one this build of Moonflow reads (1 to \(Self.journalFormat))")
        }
        let type = EventType(try top.string("type"))
        let data = try top.value("data")
        let payload: Payload
        if case .object(let object) = data {
            payload = try JournalReader(object, path: "data.", legacy: format == 1).payload(type, rawData: data)
        } else if !type.isReserved {
            payload = .emitted(type: type, payload: data)
        } else {
            throw top.wrongType("data", "an object")
        }
        self.init(
            payload, runID: try top.string("run_id"), workflow: try top.string("workflow"), activity: try top.optionalString("activity"),
            attempt: try top.optionalInt("attempt"), at: try top.time("at"))
    }
}

/// Typed reads of one JSON object of a journal row, with the path of each member for errors.
struct JournalReader {
    let members: OrderedDictionary<String, Value>
    let path: String
    /// A format-1 row: members added since may be missing.
    let legacy: Bool

    init(_ members: OrderedDictionary<String, Value>, path: String, legacy: Bool) {
        self.members = members
        self.path = path
        self.legacy = legacy
    }

    func payload(_ type: EventType, rawData: Value) throws(JournalEntryError) -> RunEvent.Payload {
        switch type {
        case .runQueued: return .runQueued(try queuedRun())
        case .runStarted: return .runStarted(deadline: try nullableTime("deadline"))
        case .runWaiting: return .runWaiting
        case .runResumed: return .runResumed
        case .runFailing:
            let cause = try string("cause")
            guard let ending = RunEnding(rawValue: cause) else { throw invalid("cause", "\(quoted(cause)) is not a way a run ends") }
            return .runFailing(cause: ending, error: try failure("error"), activity: try optionalString("activity"))
        case .runCompensating:
            let plan = try objects("plan").map { step throws(JournalEntryError) in
                PlannedCompensation(activity: try step.string("activity"), handler: try step.string("handler"))
            }
            return .runCompensating(plan: plan, deadline: try added("deadline", else: nil, nullableTime))
        case .runCompleted: return .runCompleted(output: try value("output"))
        case .runFailed: return .runFailed
        case .runTimedOut: return .runTimedOut
        case .runCancelled: return .runCancelled
        case .runTerminated: return .runTerminated
        case .runCompensated: return .runCompensated
        case .runCompensationFailed: return .runCompensationFailed
        case .runCompensationResumed:
            let repin = try optionalString("definition_hash").map { hash throws(JournalEntryError) in
                Repin(definitionHash: hash, previousDefinitionHash: try string("previous_definition_hash"))
            }
            return .runCompensationResumed(deadline: try added("deadline", else: nil, nullableTime), repin: repin)
        case .runPaused:
            let reason = try string("reason")
            switch reason {
            case "requested": return .runPaused(.requested)
            case "breakpoint": return .runPaused(.breakpoint(activity: try string("activity")))
            case "step": return .runPaused(.step(activity: try string("activity")))
            default: throw invalid("reason", "\(quoted(reason)) is not a reason a run pauses")
            }
        case .runUnpaused: return .runUnpaused(step: try bool("step"))
        case .runRedriven:
            let repin = try optionalString("definition_hash").map { hash throws(JournalEntryError) in
                Repin(definitionHash: hash, previousDefinitionHash: try string("previous_definition_hash"))
            }
            let activities = try repin == nil ? [] : strings("activities")
            return .runRedriven(deadline: try nullableTime("deadline"), repin: repin, activities: activities)
        case .runNotification:
            let status = try string("status")
            guard let ended = RunStatus(rawValue: status) else { throw invalid("status", "\(quoted(status)) is not a run status") }
            return .runNotification(
                RunNotification(
                    status: ended, channels: try strings("channels"), recipients: try strings("recipients"), error: try optionalFailure("error")))
        case .activityScheduled: return .activityScheduled(input: try value("input"))
        case .activityStarted: return .activityStarted
        case .activityRetrying: return .activityRetrying(error: try failure("error"), nextAttemptAt: try time("next_attempt_at"))
        case .activityInterrupted: return .activityInterrupted
        case .activityFallback:
            return .activityFallback(error: try failure("error"), notify: try added("notify", else: false, bool))
        case .activityWaiting: return .activityWaiting(try waitReason())
        case .activityCompleted: return .activityCompleted(try completion())
        case .activityFailed: return .activityFailed(error: try failure("error"), attempts: try int("attempts"))
        case .activitySkipped: return .activitySkipped(try skipReason())
        case .activityCancelled: return .activityCancelled(error: try failure("error"), attempts: try optionalInt("attempts"))
        case .activityLog:
            return .activityLog(
                ScriptLogEntry(level: try string("level"), message: try string("message"), fields: members["fields"] ?? .object([:])))
        case .activityRecorded:
            guard let recording = ScriptRecording(value: rawData) else { throw JournalEntryError("\(path): not a recording of built-in answers") }
            return .activityRecorded(recording)
        case .compensationStarted: return .compensationStarted
        case .compensationCompleted:
            return .compensationCompleted(
                attempts: try int("attempts"), output: members["output"], contextWrites: try optionalObject("context_writes") ?? [:])
        case .compensationFailed: return .compensationFailed(error: try failure("error"), attempts: try optionalInt("attempts"))
        case .taskCreated: return .taskCreated(try createdTask())
        case .taskAssigned: return .taskAssigned(id: try string("id"), users: try strings("users"), groups: try strings("groups"))
        case .taskReminded: return .taskReminded(id: try string("id"), reminder: try time("reminder"))
        case .taskCompleted: return .taskCompleted(id: try string("id"), data: try value("data"), user: try string("user"))
        case .taskExpired: return .taskExpired(id: try string("id"), error: try failure("error"))
        case .taskCancelled: return .taskCancelled(id: try string("id"))
        case .deadLetterCreated:
            return .deadLetterCreated(
                DeadLetterNotice(
                    id: try string("dead_letter_id"), eventType: try string("event_type"), eventID: try optionalString("event_id"),
                    errors: try strings("errors")))
        case .notificationQueued:
            return .notificationQueued(QueuedNotification(id: try string("id"), channel: try string("channel"), message: try value("message")))
        case .notificationDelivered:
            return .notificationDelivered(id: try string("id"), channel: try string("channel"), attempts: try int("attempts"))
        case .notificationDeadLettered:
            return .notificationDeadLettered(
                id: try string("id"), channel: try string("channel"), attempts: try int("attempts"), error: try failure("error"))
        default:
            if type.rawValue.hasPrefix("circuit.") { return try circuit(type) }
            guard !type.isReserved else { throw JournalEntryError("unknown event type \(quoted(type.rawValue))") }
            return .emitted(type: type, payload: rawData)
        }
    }

    // MARK: - Payloads with several members

    private func queuedRun() throws(JournalEntryError) -> QueuedRun {
        let parent = try optionalString("parent_run").map { run throws(JournalEntryError) in
            ParentLink(runID: run, activity: try string("parent_activity"))
        }
        let place = try optionalObject("queue").map { queue throws(JournalEntryError) in
            let reader = JournalReader(queue, path: "\(path)queue.", legacy: legacy)
            let sequence = try reader.int("sequence")
            guard sequence >= 0 else { throw reader.invalid("sequence", "\(sequence) is negative") }
            return QueuePlace(sequence: UInt64(sequence), deadline: try reader.nullableTime("deadline"))
        }
        return QueuedRun(
            version: try nullableString("version"), definitionHash: try added("definition_hash", else: "", string),
            input: try value("input"), context: try object("context"), activities: try strings("activities"),
            triggerEvent: try value("event").nonNull, priority: try added("priority", else: 0, int),
            startHash: try optionalString("start_hash"), origin: try origin(hasParent: parent != nil), parent: parent, queuePlace: place,
            breakBefore: try optionalStrings("break_before") ?? [], rerunOf: try rerunSource(),
            traceParent: try optionalString("traceparent").flatMap(TraceParent.init(header:)))
    }

    private func rerunSource() throws(JournalEntryError) -> RerunSource? {
        guard let source = try optionalObject("rerun_of") else { return nil }
        let reader = JournalReader(source, path: "\(path)rerun_of.", legacy: legacy)
        return RerunSource(runID: try reader.string("run_id"), from: try reader.string("from"))
    }

    private func origin(hasParent: Bool) throws(JournalEntryError) -> RunOrigin {
        guard let name = try optionalString("origin") else {
            guard legacy else { throw missing("origin") }
            return hasParent ? .child : .request
        }
        switch name {
        case "request": return .request
        case "child": return .child
        case "event": return .event
        case "schedule": return .schedule(tick: try time("schedule_tick"))
        default: throw invalid("origin", "\(quoted(name)) is not a run origin")
        }
    }

    private func waitReason() throws(JournalEntryError) -> WaitReason {
        if let task = try optionalString("task") { return .task(id: task) }
        if let child = try optionalString("child_run") { return .childRun(id: child) }
        if members["until"] != nil { return .timer(until: try time("until")) }
        throw JournalEntryError("\(path): expected one of task, child_run or until")
    }

    private func completion() throws(JournalEntryError) -> ActivityCompletion {
        let emitted = try optionalObjects("events")?.map { event throws(JournalEntryError) in
            EmittedEvent(type: try event.string("type"), payload: try event.value("payload"))
        }
        let rescued = try optionalBool("via_fallback") == true ? try failure("error") : nil
        return ActivityCompletion(
            seq: try int("seq"), output: try value("output"), attempts: try int("attempts"),
            contextWrites: try optionalObject("context_writes") ?? [:], emitted: emitted ?? [], rescued: rescued)
    }

    private func skipReason() throws(JournalEntryError) -> SkipReason {
        switch try string("reason") {
        case SkipReason.noIncomingEdgeText: return .noIncomingEdge
        case SkipReason.whenFalseText: return .whenFalse
        case SkipReason.fallbackText: return .fallback(error: try failure("error"), attempts: try int("attempts"))
        case let reason: throw invalid("reason", "\(quoted(reason)) is not a reason to skip")
        }
    }

    private func createdTask() throws(JournalEntryError) -> CreatedTask {
        // Before tokens were kept as digests, the token itself was journaled.
        var digest = try optionalString("token_sha256")
        if digest == nil, legacy { digest = try optionalString("token").map(TaskToken.digest(of:)) }
        guard let digest else { throw missing("token_sha256") }
        return CreatedTask(
            id: try string("id"), tokenDigest: digest, users: try strings("users"), groups: try strings("groups"),
            form: try value("form").nonNull, due: try nullableTime("due"), reminders: try array("reminders").map(Self.time))
    }

    private func circuit(_ type: EventType) throws(JournalEntryError) -> RunEvent.Payload {
        func state(_ key: String) throws(JournalEntryError) -> CircuitState {
            let name = try string(key)
            guard let state = CircuitState(rawValue: name) else { throw invalid(key, "\(quoted(name)) is not a breaker state") }
            return state
        }
        let to = try state("to")
        guard EventType.circuit(to) == type else { throw invalid("to", "'\(to.rawValue)' is not what \(quoted(type.rawValue)) says") }
        return .circuit(breaker: try string("breaker"), from: try state("from"), to: to)
    }

    // MARK: - Members

    func value(_ key: String) throws(JournalEntryError) -> Value {
        guard let value = members[key] else { throw missing(key) }
        return value
    }

    func string(_ key: String) throws(JournalEntryError) -> String {
        guard case .string(let text) = try value(key) else { throw wrongType(key, "a string") }
        return text
    }

    func int(_ key: String) throws(JournalEntryError) -> Int {
        guard case .int(let number) = try value(key) else { throw wrongType(key, "an integer") }
        return Int(number)
    }

    func bool(_ key: String) throws(JournalEntryError) -> Bool {
        guard case .bool(let flag) = try value(key) else { throw wrongType(key, "true or false") }
        return flag
    }

    func time(_ key: String) throws(JournalEntryError) -> Timestamp {
        guard case .int(let nanoseconds) = try value(key) else { throw wrongType(key, "an integer of nanoseconds") }
        return Timestamp(nanosecondsSinceEpoch: nanoseconds)
    }

    func array(_ key: String) throws(JournalEntryError) -> [Value] {
        guard case .array(let items) = try value(key) else { throw wrongType(key, "an array") }
        return items
    }

    func object(_ key: String) throws(JournalEntryError) -> OrderedDictionary<String, Value> {
        guard case .object(let members) = try value(key) else { throw wrongType(key, "an object") }
        return members
    }

    func strings(_ key: String) throws(JournalEntryError) -> [String] {
        try array(key).map { item throws(JournalEntryError) in
            guard case .string(let text) = item else { throw wrongType(key, "an array of strings") }
            return text
        }
    }

    func objects(_ key: String) throws(JournalEntryError) -> [JournalReader] {
        try array(key).enumerated().map { (index, item) throws(JournalEntryError) -> JournalReader in
            guard case .object(let members) = item else { throw wrongType(key, "an array of objects") }
            return JournalReader(members, path: "\(path)\(key)[\(index)].", legacy: legacy)
        }
    }

    func failure(_ key: String) throws(JournalEntryError) -> ActivityFailure {
        let reader = JournalReader(try object(key), path: "\(path)\(key).", legacy: legacy)
        return ActivityFailure(
            ErrorType(try reader.string("type")), try reader.string("message"), retryable: try reader.optionalBool("retryable"),
            details: reader.members["details"], script: try reader.optionalString("script"), line: try reader.optionalInt("line"))
    }

    /// A member that is present as `null` or a time.
    func nullableTime(_ key: String) throws(JournalEntryError) -> Timestamp? {
        try value(key).isNull ? nil : try time(key)
    }

    /// A member that is present as `null` or a string.
    func nullableString(_ key: String) throws(JournalEntryError) -> String? {
        try value(key).isNull ? nil : try string(key)
    }

    /// A member added after format 1: a format-1 row without it reads as `fallback`, the value the
    /// fold took for it then.
    func added<T>(_ key: String, else fallback: T, _ read: (String) throws(JournalEntryError) -> T) throws(JournalEntryError) -> T {
        legacy && members[key] == nil ? fallback : try read(key)
    }

    // Members that may be absent (or `null`).

    func optionalString(_ key: String) throws(JournalEntryError) -> String? { isAbsent(key) ? nil : try string(key) }
    func optionalInt(_ key: String) throws(JournalEntryError) -> Int? { isAbsent(key) ? nil : try int(key) }
    func optionalBool(_ key: String) throws(JournalEntryError) -> Bool? { isAbsent(key) ? nil : try bool(key) }
    func optionalTime(_ key: String) throws(JournalEntryError) -> Timestamp? { isAbsent(key) ? nil : try time(key) }
    func optionalFailure(_ key: String) throws(JournalEntryError) -> ActivityFailure? { isAbsent(key) ? nil : try failure(key) }
    func optionalObject(_ key: String) throws(JournalEntryError) -> OrderedDictionary<String, Value>? {
        isAbsent(key) ? nil : try object(key)
    }
    func optionalObjects(_ key: String) throws(JournalEntryError) -> [JournalReader]? { isAbsent(key) ? nil : try objects(key) }
    func optionalStrings(_ key: String) throws(JournalEntryError) -> [String]? { isAbsent(key) ? nil : try strings(key) }

    private func isAbsent(_ key: String) -> Bool { members[key]?.isNull ?? true }

    private static func time(_ value: Value) throws(JournalEntryError) -> Timestamp {
        guard case .int(let nanoseconds) = value else { throw JournalEntryError("expected times as integers of nanoseconds") }
        return Timestamp(nanosecondsSinceEpoch: nanoseconds)
    }

    // MARK: - Errors

    func missing(_ key: String) -> JournalEntryError { JournalEntryError("\(path)\(key) is missing") }

    func wrongType(_ key: String, _ expected: String) -> JournalEntryError {
        JournalEntryError("\(path)\(key): expected \(expected), found \(members[key]?.typeName ?? "nothing")")
    }

    func invalid(_ key: String, _ reason: String) -> JournalEntryError { JournalEntryError("\(path)\(key): \(reason)") }

    /// Text from the row, quoted, as errors show it (`SafeText.display`).
    func quoted(_ text: String) -> String { "'\(SafeText.display(text, limit: 100))'" }
}

extension Value {
    /// `nil` for `null`.
    var nonNull: Value? {
        guard !isNull else { return nil }
        return self
    }
}
