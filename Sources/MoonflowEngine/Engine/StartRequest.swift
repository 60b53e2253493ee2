import Crypto
package import MoonflowModel

/// Who asked for a run, stored in its `run.queued` event: what an idempotent repeat of its start
/// must match to return it.
package enum RunOrigin: Sendable, Hashable {
    /// A caller (API, CLI, a test): a repeat must name the same workflow and input.
    case request
    /// A `type: workflow` activity (the parent link says which).
    case child
    /// A schedule tick: its cron time. The schedule service reads the last tick fired from here.
    case schedule(tick: Timestamp)
    /// An event trigger with a dedupe key: a second event with the key starts nothing, whatever
    /// its payload (docs/workflow-format.md `dedupe`).
    case event

    var name: String {
        switch self {
        case .request: "request"
        case .child: "child"
        case .schedule: "schedule"
        case .event: "event"
        }
    }
}

/// The hash of a start request, stored with the run: SHA-256 of the workflow id and the input in
/// canonical JSON (keys sorted), so `{a, b}` and `{b, a}` are the same request.
package enum StartHash {
    package static func of(workflow: String, input: Value) -> String {
        let text = "moonflow.start.v1\u{0}\(workflow)\u{0}\(input.jsonString(sortedKeys: true))"
        return EngineRunID.hex(SHA256.hash(data: Array(text.utf8)))
    }
}

/// A start, as compared with the run its id names: an idempotent repeat returns that run only
/// when it was started the same way — same workflow, same origin (the same parent and activity
/// for a child, the same tick for a schedule) and, except for an event's dedupe key, the same
/// input. Anything else is never adopted: `EngineError.runIDConflict`.
struct StartRequest {
    var workflow: String
    var startHash: String
    var parent: ParentLink?
    var origin: RunOrigin

    func adopt(_ existing: RunState) throws -> RunStart {
        guard existing.workflow == workflow else {
            throw EngineError.runIDConflict(existing.id, reason: "belongs to workflow '\(existing.workflow)'")
        }
        guard existing.origin == origin, existing.parent == parent else {
            throw EngineError.runIDConflict(existing.id, reason: "was started by \(Self.describe(existing.origin, existing.parent))")
        }
        if origin != .event {
            let stored = existing.startHash ?? StartHash.of(workflow: existing.workflow, input: existing.input)
            guard stored == startHash else { throw EngineError.runIDConflict(existing.id, reason: "was started with another input") }
        }
        return RunStart(runID: existing.id, created: false)
    }

    private static func describe(_ origin: RunOrigin, _ parent: ParentLink?) -> String {
        switch origin {
        case .request: "another request"
        case .child: parent.map { "activity '\($0.activity)' of run '\($0.runID)'" } ?? "another run"
        case .schedule(let tick): "the schedule tick of \(tick.iso8601)"
        case .event: "an event"
        }
    }
}
