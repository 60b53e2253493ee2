package import MoonflowModel
import OrderedCollections

/// The JSON shape of events (docs/workflow-format.md), made where an event leaves the engine: the
/// API, the CLI and logs show `toValue()`, stores keep `journalValue` (the same with the journal's
/// `format`). Members are written in a fixed order, so the same event is always the same text.
extension RunEvent {
    /// The journal format written now. Format 1 (rows without `format`) is read too (`JournalDecoding`).
    package static let journalFormat = 2

    /// `{type, run_id, workflow, activity?, attempt?, at, data}`.
    package func toValue() -> Value { .object(members(format: nil)) }

    /// What a store keeps: `{format, type, run_id, workflow, activity?, attempt?, at, data}`.
    package var journalValue: Value { .object(members(format: Self.journalFormat)) }

    private func members(format: Int?) -> OrderedDictionary<String, Value> {
        var object: OrderedDictionary<String, Value> = [:]
        object.reserveCapacity(8)
        if let format { object["format"] = .int(Int64(format)) }
        object["type"] = .string(type.rawValue)
        object["run_id"] = .string(runID)
        object["workflow"] = .string(workflow)
        if let activity { object["activity"] = .string(activity) }
        if let attempt { object["attempt"] = .int(Int64(attempt)) }
        object["at"] = .int(at.nanosecondsSinceEpoch)
        object["data"] = data
        return object
    }

    /// The payload's JSON shape: the event's `data`.
    package var data: Value {
        switch payload {
        case .runQueued(let run): run.dataValue
        case .runStarted(let deadline): ["deadline": .time(deadline)]
        case .runWaiting, .runResumed, .runFailed, .runTimedOut, .runCancelled, .runTerminated, .runCompensated,
            .runCompensationFailed, .activityStarted, .activityInterrupted, .compensationStarted:
            .object([:])
        case .runFailing(let cause, let error, let activity):
            if let activity {
                ["cause": .string(cause.rawValue), "error": error.toValue(), "activity": .string(activity)]
            } else {
                ["cause": .string(cause.rawValue), "error": error.toValue()]
            }
        case .runCompensating(let plan, let deadline):
            [
                "plan": .array(plan.map { ["activity": .string($0.activity), "handler": .string($0.handler)] }),
                "deadline": .time(deadline),
            ]
        case .runCompleted(let output): ["output": output]
        case .runCompensationResumed(let deadline, let repin):
            if let repin {
                [
                    "deadline": .time(deadline), "definition_hash": .string(repin.definitionHash),
                    "previous_definition_hash": .string(repin.previousDefinitionHash),
                ]
            } else {
                ["deadline": .time(deadline)]
            }
        case .runPaused(let reason):
            if let activity = reason.activity {
                ["reason": .string(reason.name), "activity": .string(activity)]
            } else {
                ["reason": .string(reason.name)]
            }
        case .runUnpaused(let step): ["step": .bool(step)]
        case .runRedriven(let deadline, let repin, let activities):
            if let repin {
                [
                    "deadline": .time(deadline), "definition_hash": .string(repin.definitionHash),
                    "previous_definition_hash": .string(repin.previousDefinitionHash), "activities": .strings(activities),
                ]
            } else {
                ["deadline": .time(deadline)]
            }
        case .runNotification(let notification):
            [
                "status": .string(notification.status.rawValue), "channels": .strings(notification.channels),
                "recipients": .strings(notification.recipients), "error": notification.error?.toValue() ?? .null,
            ]
        case .activityScheduled(let input): ["input": input]
        case .activityRetrying(let error, let nextAttemptAt): ["error": error.toValue(), "next_attempt_at": .time(nextAttemptAt)]
        case .activityFallback(let error, let notify): ["error": error.toValue(), "notify": .bool(notify)]
        case .activityWaiting(.task(let id)): ["task": .string(id)]
        case .activityWaiting(.childRun(let id)): ["child_run": .string(id)]
        case .activityWaiting(.timer(let until)): ["until": .time(until)]
        case .activityCompleted(let completion): completion.dataValue
        case .activityFailed(let error, let attempts): ["error": error.toValue(), "attempts": .int(Int64(attempts))]
        case .activitySkipped(.noIncomingEdge): ["reason": .string(SkipReason.noIncomingEdgeText)]
        case .activitySkipped(.whenFalse): ["reason": .string(SkipReason.whenFalseText)]
        case .activitySkipped(.fallback(let error, let attempts)):
            ["reason": .string(SkipReason.fallbackText), "error": error.toValue(), "attempts": .int(Int64(attempts))]
        case .activityCancelled(let error, let attempts), .compensationFailed(let error, let attempts):
            if let attempts { ["error": error.toValue(), "attempts": .int(Int64(attempts))] } else { ["error": error.toValue()] }
        case .activityLog(let entry):
            if entry.fields == .object([:]) {
                ["level": .string(entry.level), "message": .string(entry.message)]
            } else {
                ["level": .string(entry.level), "message": .string(entry.message), "fields": entry.fields]
            }
        case .activityRecorded(let recording): recording.toValue()
        case .compensationCompleted(let attempts, let output, let writes):
            Self.compensationData(attempts: attempts, output: output, writes: writes)
        case .taskCreated(let task): task.dataValue
        case .taskAssigned(let id, let users, let groups): ["id": .string(id), "users": .strings(users), "groups": .strings(groups)]
        case .taskReminded(let id, let reminder): ["id": .string(id), "reminder": .time(reminder)]
        case .taskCompleted(let id, let data, let user): ["id": .string(id), "data": data, "user": .string(user)]
        case .taskExpired(let id, let error): ["id": .string(id), "error": error.toValue()]
        case .taskCancelled(let id): ["id": .string(id)]
        case .circuit(let breaker, let from, let to): ["breaker": .string(breaker), "from": .string(from.rawValue), "to": .string(to.rawValue)]
        case .deadLetterCreated(let notice):
            [
                "dead_letter_id": .string(notice.id), "event_type": .string(notice.eventType),
                "event_id": notice.eventID.map(Value.string) ?? .null, "errors": .strings(notice.errors),
            ]
        case .emitted(_, let payload): payload
        case .notificationQueued(let queued): ["id": .string(queued.id), "channel": .string(queued.channel), "message": queued.message]
        case .notificationDelivered(let id, let channel, let attempts):
            ["id": .string(id), "channel": .string(channel), "attempts": .int(Int64(attempts))]
        case .notificationDeadLettered(let id, let channel, let attempts, let error):
            ["id": .string(id), "channel": .string(channel), "attempts": .int(Int64(attempts)), "error": error.toValue()]
        }
    }

    private static func compensationData(attempts: Int, output: Value?, writes: OrderedDictionary<String, Value>) -> Value {
        var data: OrderedDictionary<String, Value> = ["attempts": .int(Int64(attempts))]
        if let output { data["output"] = output }
        if !writes.isEmpty { data["context_writes"] = .object(writes) }
        return .object(data)
    }
}

extension QueuedRun {
    var dataValue: Value {
        var data: OrderedDictionary<String, Value> = [
            "version": version.map(Value.string) ?? .null, "definition_hash": .string(definitionHash), "input": input,
            "context": .object(context), "activities": .strings(activities), "event": triggerEvent ?? .null,
            "priority": .int(Int64(priority)),
        ]
        if let startHash { data["start_hash"] = .string(startHash) }
        data["origin"] = .string(origin.name)
        if case .schedule(let tick) = origin { data["schedule_tick"] = .time(tick) }
        if let parent {
            data["parent_run"] = .string(parent.runID)
            data["parent_activity"] = .string(parent.activity)
        }
        if let queuePlace {
            data["queue"] = ["sequence": .int(Int64(queuePlace.sequence)), "deadline": .time(queuePlace.deadline)]
        }
        if !breakBefore.isEmpty { data["break_before"] = .strings(breakBefore) }
        if let rerunOf { data["rerun_of"] = ["run_id": .string(rerunOf.runID), "from": .string(rerunOf.from)] }
        if let traceParent { data["traceparent"] = .string(traceParent.header) }
        return .object(data)
    }
}

extension ActivityCompletion {
    var dataValue: Value {
        var data: OrderedDictionary<String, Value> = ["seq": .int(Int64(seq)), "output": output, "attempts": .int(Int64(attempts))]
        if !contextWrites.isEmpty { data["context_writes"] = .object(contextWrites) }
        if !emitted.isEmpty { data["events"] = .array(emitted.map { ["type": .string($0.type), "payload": $0.payload] }) }
        if let rescued {
            data["via_fallback"] = true
            data["error"] = rescued.toValue()
        }
        return .object(data)
    }
}

extension CreatedTask {
    var dataValue: Value {
        [
            "id": .string(id), "users": .strings(users), "groups": .strings(groups), "token_sha256": .string(tokenDigest),
            "form": form ?? .null, "due": .time(due), "reminders": .array(reminders.map { .time($0) }),
        ]
    }
}

extension SkipReason {
    static let noIncomingEdgeText = "no incoming edge was taken"
    static let whenFalseText = "when is false"
    static let fallbackText = "fallback"
}

extension ActivityFailure {
    /// The shape stored in events and shown to expressions as `error`.
    package func toValue() -> Value {
        var object: OrderedDictionary<String, Value> = ["type": .string(type.rawValue), "message": .string(message)]
        if let retryable { object["retryable"] = .bool(retryable) }
        if let details { object["details"] = details }
        if let script { object["script"] = .string(script) }
        if let line { object["line"] = .int(Int64(line)) }
        return .object(object)
    }
}

extension Value {
    /// Times inside event data are integers of nanoseconds, exact through JSON; `null` for none.
    static func time(_ time: Timestamp?) -> Value { time.map { .int($0.nanosecondsSinceEpoch) } ?? .null }

    static func strings(_ strings: [String]) -> Value { .array(strings.map(Value.string)) }
}
