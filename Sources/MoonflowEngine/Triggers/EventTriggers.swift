package import MoonflowModel
package import OrderedCollections

/// A run an event starts: the workflow, the input its trigger built, and the trigger's dedupe key.
package struct TriggerMatch: Sendable, Hashable {
    package var workflow: PinnedWorkflow
    package var input: Value
    package var dedupeKey: String?

    /// What names the run (`EngineRunID.event`, out of callers' reach) and its dead letter: the
    /// dedupe key, else the event's id; `nil` without either (a fresh id).
    func key(eventID: String?) -> String? {
        dedupeKey.map { "dedupe\u{0}\($0)" } ?? eventID.map { "event\u{0}\($0)" }
    }
}

/// A trigger of a workflow whose type and conditions matched an event but one of whose
/// expressions failed to evaluate (and no other trigger of the workflow matched).
package struct TriggerFailure: Sendable, Hashable {
    package var workflow: PinnedWorkflow
    /// `when`, `input` or `dedupe`.
    package var expression: String
    package var error: ActivityFailure

    /// `trigger.<expression>: <error>`, the dead letter's error.
    var message: String { "trigger.\(expression): \(error.description)" }
}

/// What an event's triggers decided: the runs it starts, and the workflows whose trigger failed.
package struct TriggerEvaluation: Sendable, Hashable {
    package var matches: [TriggerMatch] = []
    package var failures: [TriggerFailure] = []
}

/// Matches events against the `trigger: event:` blocks of a set of workflows (docs/workflow-format.md):
/// the type must be equal, every field of `conditions` must match the payload (a list value = any
/// of), `when` must be true; `input` builds the run input (default: the payload); a `dedupe` key
/// names the run (`TriggerMatch.key`), so the store makes a second start with the same key
/// return the existing run, across restarts too.
package final class EventTriggers: Sendable {
    package let workflows: [PinnedWorkflow]

    package init(workflows: [PinnedWorkflow]) { self.workflows = workflows }

    /// The runs this event starts. Expressions see the payload as `event`; a trigger whose `when`,
    /// `input` or `dedupe` fails to evaluate does not match, and when no other trigger of its
    /// workflow matches, the first such failure is reported (`failures`).
    package func match(type: String, payload: Value, evaluator: any ScriptRunning) async -> TriggerEvaluation {
        let scope: Value = ["event": payload]
        var evaluation = TriggerEvaluation()
        for pinned in workflows {
            var failure: TriggerFailure?
            var matched = false
            for trigger in pinned.workflow.triggers {
                guard case .event(let eventType, let conditions) = trigger.kind, eventType == type,
                    Self.conditionsMatch(conditions, payload: payload)
                else { continue }
                var expression = "when"
                do throws(ActivityFailure) {
                    if let when = trigger.when {
                        let holds = try await evaluator.evaluate(.template(Template(parts: [.expression(when)])), scope: scope)
                        guard holds.isTruthy else { continue }
                    }
                    expression = "input"
                    let input = try await trigger.input.asyncMap { template throws(ActivityFailure) in
                        try await evaluator.evaluate(template, scope: scope)
                    } ?? payload
                    expression = "dedupe"
                    var key: String?
                    if let dedupe = trigger.dedupe {
                        let value = try await evaluator.evaluate(.template(dedupe), scope: scope)
                        key = value.stringValue ?? value.jsonString()
                    }
                    evaluation.matches.append(TriggerMatch(workflow: pinned, input: input, dedupeKey: key))
                    matched = true
                    break
                } catch {
                    failure = failure ?? TriggerFailure(workflow: pinned, expression: expression, error: error)
                }
            }
            if !matched, let failure { evaluation.failures.append(failure) }
        }
        return evaluation
    }

    /// Every field must match; a list in the conditions means any of its values.
    package static func conditionsMatch(_ conditions: OrderedDictionary<String, Value>, payload: Value) -> Bool {
        conditions.allSatisfy { key, expected in
            guard let actual = payload[key] else { return false }
            if case .array(let options) = expected { return options.contains(actual) }
            return actual == expected
        }
    }
}

extension Optional {
    fileprivate func asyncMap<T, E: Error>(_ transform: (Wrapped) async throws(E) -> T) async throws(E) -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}

/// What posting an event did: the runs it started (`created: false`: an earlier event with the
/// key started it), and the starts workflows refused, each stored as a dead letter.
package struct EventOutcome: Sendable, Hashable {
    package struct Started: Sendable, Hashable {
        package var workflow: String
        package var runID: RunID
        package var created: Bool
    }

    package var started: [Started] = []
    package var rejected: [EventDeadLetter] = []
}

extension Engine {
    /// Starts the runs an event triggers (posted through the API, or emitted by a script); the
    /// caller drives them (`onCreated` is told each run this call created, as soon as it is
    /// stored). Every matching workflow is tried: one whose input schema refuses the input its
    /// trigger built starts nothing, and the refusal is stored as an `EventDeadLetter` (once per
    /// key: the same event refused again names the stored one) and announced on the bus
    /// (`dead_letter.created`); so is a workflow whose trigger failed to evaluate (`trigger_failed`).
    /// A dedupe key (or the event's id) seen before returns the run it started. Other errors (the
    /// store's) are thrown.
    package func post(
        _ event: PostedEvent, to triggers: EventTriggers, onCreated: (RunID) -> Void = { _ in }
    ) async throws -> EventOutcome {
        var outcome = EventOutcome()
        let evaluation = await triggers.match(type: event.type, payload: event.payload, evaluator: runner)
        for failure in evaluation.failures {
            let workflow = failure.workflow.workflow
            let letter = EventDeadLetter(
                id: EventDeadLetter.id(workflow: workflow.id, key: event.id.map { "event\u{0}\($0)" }), createdAt: clock.now,
                event: event, dedupeKey: nil, workflow: workflow.id, version: workflow.version,
                definitionHash: failure.workflow.hash, input: .null, errors: [failure.message], kind: .triggerFailed)
            outcome.rejected.append(try await deadLetter(letter))
        }
        for match in evaluation.matches {
            let key = match.key(eventID: event.id)
            let workflow = match.workflow.workflow
            do {
                let run = try await startTriggered(
                    match.workflow, input: match.input, key: key, event: event.payload, traceParent: event.traceParent)
                if run.created { onCreated(run.runID) }
                outcome.started.append(EventOutcome.Started(workflow: workflow.id, runID: run.runID, created: run.created))
            } catch let failure as ActivityFailure where failure.type == .schemaInvalid {
                let letter = EventDeadLetter(
                    id: EventDeadLetter.id(workflow: workflow.id, key: key), createdAt: clock.now, event: event,
                    dedupeKey: match.dedupeKey, workflow: workflow.id, version: workflow.version,
                    definitionHash: match.workflow.hash, input: match.input,
                    errors: failure.details?.arrayValue?.compactMap(\.stringValue) ?? [failure.message])
                outcome.rejected.append(try await deadLetter(letter))
            }
        }
        return outcome
    }

    /// Stores `letter` and announces it, or returns the one stored under its id already.
    private func deadLetter(_ letter: EventDeadLetter) async throws -> EventDeadLetter {
        guard try await store.recordEventDeadLetter(letter) else { return try await store.eventDeadLetter(id: letter.id) ?? letter }
        let event = letter.event ?? PostedEvent(type: "", payload: .null)
        logger.warning(
            letter.kind == .triggerFailed
                ? "an event's trigger failed to evaluate: stored as a dead letter" : "a workflow refused an event's input: stored as a dead letter",
            metadata: [
                "workflow": .string(letter.workflow), "dead_letter.id": .string(letter.id),
                "event.type": .string(SafeText.display(event.type)),
            ])
        let notice = DeadLetterNotice(id: letter.id, eventType: event.type, eventID: event.id, errors: letter.errors)
        bus.publish([RunEvent(.deadLetterCreated(notice), runID: "", workflow: letter.workflow, at: letter.createdAt)])
        return letter
    }
}
