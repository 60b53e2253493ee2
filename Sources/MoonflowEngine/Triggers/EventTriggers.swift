import MoonflowModel
import OrderedCollections

/// A run an event starts: the workflow, the input its trigger built, and the trigger's dedupe key.
public struct TriggerMatch: Sendable, Hashable {
    public var workflow: PinnedWorkflow
    public var input: Value
    public var dedupeKey: String?

    /// The id of the run a dedupe key names (`EngineRunID.event`, out of callers' reach); `nil`
    /// without a key (a fresh id).
    public var runID: RunID? { dedupeKey.map { EngineRunID.event(workflow: workflow.workflow.id, key: $0) } }
}

/// Matches events against the `trigger: event:` blocks of a set of workflows (docs/workflow-format.md):
/// the type must be equal, every field of `conditions` must match the payload (a list value = any
/// of), `when` must be true; `input` builds the run input (default: the payload); a `dedupe` key
/// names the run (`TriggerMatch.runID`), so the store makes a second start with the same key
/// return the existing run, across restarts too.
public final class EventTriggers: Sendable {
    public let workflows: [PinnedWorkflow]

    public init(workflows: [PinnedWorkflow]) { self.workflows = workflows }

    /// The runs this event starts. Expressions see the payload as `event`; a trigger whose `when`,
    /// `input` or `dedupe` fails to evaluate does not match.
    public func match(type: String, payload: Value, evaluator: any ScriptRunning) async -> [TriggerMatch] {
        let scope: Value = ["event": payload]
        var matches: [TriggerMatch] = []
        for pinned in workflows {
            for trigger in pinned.workflow.triggers {
                guard case .event(let eventType, let conditions) = trigger.kind, eventType == type,
                    Self.conditionsMatch(conditions, payload: payload)
                else { continue }
                do throws(ActivityFailure) {
                    if let when = trigger.when {
                        let holds = try await evaluator.evaluate(.template(Template(parts: [.expression(when)])), scope: scope)
                        guard holds.isTruthy else { continue }
                    }
                    let input = try await trigger.input.asyncMap { template throws(ActivityFailure) in
                        try await evaluator.evaluate(template, scope: scope)
                    } ?? payload
                    var key: String?
                    if let dedupe = trigger.dedupe {
                        let value = try await evaluator.evaluate(.template(dedupe), scope: scope)
                        key = value.stringValue ?? value.jsonString()
                    }
                    matches.append(TriggerMatch(workflow: pinned, input: input, dedupeKey: key))
                    break
                } catch {
                    continue
                }
            }
        }
        return matches
    }

    /// Every field must match; a list in the conditions means any of its values.
    public static func conditionsMatch(_ conditions: OrderedDictionary<String, Value>, payload: Value) -> Bool {
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

extension Engine {
    /// Starts the runs an event triggers (an event posted through the API, or one a script
    /// emitted) and returns their ids; the caller drives them. A dedupe key seen before returns
    /// the run it started.
    public func post(type: String, payload: Value, to triggers: EventTriggers) async throws -> [RunID] {
        var started: [RunID] = []
        for match in await triggers.match(type: type, payload: payload, evaluator: runner) {
            started.append(
                try await startTriggered(match.workflow, input: match.input, key: match.dedupeKey, event: payload).runID)
        }
        return started
    }
}
