import MoonflowModel

/// Why a dead letter cannot be redriven or discarded; nothing changed.
package enum DeadLetterError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknown(String)
    case refused(String, reason: String)

    package var description: String {
        switch self {
        case .unknown(let id): "unknown dead letter '\(SafeText.display(id, limit: 256))'"
        case .refused(let id, let reason): "dead letter '\(id)': \(reason)"
        }
    }
}

/// What a redrive did: the dead letter as stored now, and the run it started (`created: false`:
/// a run under the event's key existed already, and was returned).
package struct DeadLetterRedrive: Sendable, Hashable {
    package var letter: EventDeadLetter
    package var runID: RunID
    package var created: Bool
}

extension Engine {
    /// Submits an open dead letter's event (a refused start, or a trigger that failed) again to
    /// its workflow, under `workflow` (the project's current definition, after a fix of the
    /// schema, the trigger or the input mapping): the trigger is evaluated again, builds the input
    /// and the run starts under the key the first start would have had, so a repeat starts
    /// nothing new. The letter becomes `redriven` with the run's id. A trigger that no longer
    /// matches or still fails, or an input the workflow still refuses, leaves it open
    /// (`DeadLetterError.refused` with the errors). The caller drives the run. A notification's
    /// dead letter is redelivered by the runtime's outbox, not here.
    package func redriveDeadLetter(_ id: String, workflow pinned: PinnedWorkflow?) async throws -> DeadLetterRedrive {
        var letter = try await openDeadLetter(id)
        guard let event = letter.event else {
            throw DeadLetterError.refused(id, reason: "a \(letter.kind.rawValue) dead letter is redelivered, not started")
        }
        guard let pinned, pinned.workflow.id == letter.workflow else {
            throw DeadLetterError.refused(id, reason: "workflow '\(letter.workflow)' is not served now")
        }
        let triggers = EventTriggers(workflows: [pinned])
        let evaluation = await triggers.match(type: event.type, payload: event.payload, evaluator: runner)
        guard let match = evaluation.matches.first else {
            if let failure = evaluation.failures.first {
                throw DeadLetterError.refused(id, reason: "its trigger still fails: \(failure.message)")
            }
            throw DeadLetterError.refused(id, reason: "no trigger of '\(letter.workflow)' matches its event any more")
        }
        let run: RunStart
        do {
            run = try await startTriggered(pinned, input: match.input, key: match.key(eventID: event.id), event: event.payload)
        } catch let failure as ActivityFailure where failure.type == .schemaInvalid {
            let errors = failure.details?.arrayValue?.compactMap(\.stringValue) ?? [failure.message]
            throw DeadLetterError.refused(id, reason: "the workflow still refuses its input: \(errors.prefix(3).joined(separator: "; "))")
        }
        letter.status = .redriven
        letter.runID = run.runID
        _ = try await store.updateEventDeadLetter(letter)
        logger.notice(
            "dead letter redriven", metadata: ["dead_letter.id": .string(id), "run.id": .string(run.runID), "workflow": .string(letter.workflow)])
        return DeadLetterRedrive(letter: letter, runID: run.runID, created: run.created)
    }

    /// Drops an open dead letter: it stays listed, `discarded`, and is never redriven.
    package func discardDeadLetter(_ id: String) async throws -> EventDeadLetter {
        var letter = try await openDeadLetter(id)
        letter.status = .discarded
        _ = try await store.updateEventDeadLetter(letter)
        return letter
    }

    /// The stored dead letter `id` while it is open; `DeadLetterError` otherwise.
    package func openDeadLetter(_ id: String) async throws -> EventDeadLetter {
        guard let letter = try await store.eventDeadLetter(id: id) else { throw DeadLetterError.unknown(id) }
        switch letter.status {
        case .open: return letter
        case .redriven:
            throw DeadLetterError.refused(id, reason: "it was redriven already" + (letter.runID.map { " (run '\($0)')" } ?? ""))
        case .discarded: throw DeadLetterError.refused(id, reason: "it was discarded")
        }
    }
}
