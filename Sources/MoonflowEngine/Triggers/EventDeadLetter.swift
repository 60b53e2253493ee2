import Crypto
package import MoonflowModel
import OrderedCollections

/// An event as it reached the engine: posted through the API (`POST /v1/events`), or emitted by a
/// run's script (`emit`, docs/sandbox.md).
package struct PostedEvent: Sendable, Hashable {
    package enum Source: Sendable, Hashable {
        case api
        /// Emitted by this run.
        case emitted(runID: RunID)
    }

    package var type: String
    package var payload: Value
    /// The id its poster gave it (the API's `id`): it names the runs started by triggers without a `dedupe`.
    package var id: String?
    package var source: Source
    /// The W3C `traceparent` it was posted with: the runs it starts continue that trace. Not kept
    /// with a dead letter (a redrive starts a trace of its own).
    package var traceParent: TraceParent?

    package init(type: String, payload: Value, id: String? = nil, source: Source = .api, traceParent: TraceParent? = nil) {
        self.traceParent = traceParent
        self.type = type
        self.payload = payload
        self.id = id
        self.source = source
    }

    /// `{type, id, source, run_id?, payload}`; `withPayload: false` leaves the payload out (lists).
    func toValue(withPayload: Bool = true) -> Value {
        var object: OrderedDictionary<String, Value> = ["type": .string(type), "id": id.map(Value.string) ?? .null]
        switch source {
        case .api: object["source"] = "api"
        case .emitted(let runID):
            object["source"] = "emit"
            object["run_id"] = .string(runID)
        }
        if withPayload { object["payload"] = payload }
        return .object(object)
    }

    init?(value: Value) {
        guard let type = value["type"]?.stringValue else { return nil }
        let source: Source =
            if value["source"] == "emit", let runID = value["run_id"]?.stringValue { .emitted(runID: runID) } else { .api }
        self.init(type: type, payload: value["payload"] ?? .object([:]), id: value["id"]?.stringValue, source: source)
    }
}

/// Something the engine could not do and kept for an operator (docs/operations.md, "Dead
/// letters"; `moonflow dead-letters`), of one of three kinds (`Kind`): a start an event triggered
/// that the workflow refused (its input did not satisfy the workflow's `input` schema), an event
/// whose trigger failed (its `when`, `input` or `dedupe` expression did not evaluate), both kept
/// with the event and the errors; or a notification every delivery attempt of failed, kept with
/// the notification. Nothing posted or announced is lost, and an operator can see why, redrive it
/// after a fix, or discard it.
///
/// Stores keep at most `retentionLimit` of them: past it the oldest are dropped, so a flood of
/// bad events cannot grow the store without bound.
package struct EventDeadLetter: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The workflow's input schema refused the input the trigger built (`event`, `input`).
        case refusedStart = "refused_start"
        /// The trigger's `when`, `input` or `dedupe` expression failed to evaluate (`event`).
        case triggerFailed = "trigger_failed"
        /// Every delivery attempt of a run's notification failed (`notification`).
        case notificationFailed = "notification_failed"
    }

    /// A run's notification whose delivery failed, as the run queued it.
    package struct FailedNotification: Sendable, Hashable {
        /// The run that queued it.
        package var runID: RunID
        package var notification: QueuedNotification
        /// The attempts made before it was dead-lettered.
        package var attempts: Int

        package init(runID: RunID, notification: QueuedNotification, attempts: Int) {
            self.runID = runID
            self.notification = notification
            self.attempts = attempts
        }
    }

    package enum Status: String, Sendable, Hashable {
        /// Refused, not redriven.
        case open
        /// Submitted again after a fix, and a run started (`runID`).
        case redriven
        /// An operator dropped it: it is kept for the record, never redriven.
        case discarded
    }

    /// The most dead letters a store keeps (the oldest are dropped past it).
    package static let retentionLimit = 10_000
    /// The most validation errors kept per dead letter; each is capped like every error text
    /// (`SafeText.errorMessage`).
    package static let errorLimit = 50

    /// `dl-` and 32 hex digits: for an event with a dedupe key (or an id), derived from the
    /// workflow and the key as the run id it would have had, so posting it again names the same
    /// dead letter; otherwise random.
    package var id: String
    package var createdAt: Timestamp
    package var kind: Kind
    /// The event (`refused_start`, `trigger_failed`).
    package var event: PostedEvent?
    /// The notification (`notification_failed`).
    package var notification: FailedNotification?
    /// The key the trigger's `dedupe` made of the event, when it has one.
    package var dedupeKey: String?
    package var workflow: String
    /// The `version:` label of the definition that refused it.
    package var version: String?
    package var definitionHash: String
    /// The run input the trigger built from the event: what the schema refused (`null` for the
    /// other kinds).
    package var input: Value
    /// Why: the validation errors, each `field/path: message`; the expression that failed and
    /// its error; the last delivery's error.
    package var errors: [String] {
        get { storedErrors }
        set { storedErrors = Self.capped(newValue) }
    }
    package var status: Status
    /// The run its redrive started (the event kinds).
    package var runID: String?

    private var storedErrors: [String]

    package init(
        id: String, createdAt: Timestamp, event: PostedEvent?, dedupeKey: String?, workflow: String, version: String?,
        definitionHash: String, input: Value, errors: [String], status: Status = .open, kind: Kind = .refusedStart
    ) {
        self.id = id
        self.createdAt = createdAt
        self.kind = kind
        self.event = event
        self.dedupeKey = dedupeKey
        self.workflow = workflow
        self.version = version
        self.definitionHash = definitionHash
        self.input = input
        self.storedErrors = Self.capped(errors)
        self.status = status
    }

    /// A notification's dead letter: named for the notification, so recording it again (a
    /// delivery retried after a crash) names the same one.
    package init(
        notification failed: FailedNotification, createdAt: Timestamp, workflow: String, version: String?, definitionHash: String,
        error: String
    ) {
        let key = "notification\u{0}\(failed.notification.id)"
        self.init(
            id: "dl-" + EngineRunID.hex(SHA256.hash(data: Array(key.utf8)).prefix(16)), createdAt: createdAt, event: nil,
            dedupeKey: nil, workflow: workflow, version: version, definitionHash: definitionHash, input: .null, errors: [error],
            kind: .notificationFailed)
        notification = failed
    }

    /// The id of the dead letter of `workflow` for an event `key` (`nil`: a random one).
    static func id(workflow: String, key: String?) -> String {
        guard let key else { return "dl-" + RandomUUID.compact() }
        return "dl-" + EngineRunID.hex(SHA256.hash(data: Array("\(workflow)\u{0}\(key)".utf8)).prefix(16))
    }

    /// At most `errorLimit` errors, each capped; a last entry says how many more there were.
    private static func capped(_ errors: [String]) -> [String] {
        var kept = errors.prefix(errorLimit).map { SafeText.errorMessage($0) }
        if errors.count > errorLimit { kept.append("… and \(errors.count - errorLimit) more errors") }
        return kept
    }

    /// The API's shape (docs/api.md): `event` for the event kinds, `notification` for a
    /// notification's. `summary: true` leaves out the event's payload, the input and the
    /// notification's message, which can be large (lists).
    package func toValue(summary: Bool = false) -> Value {
        var object: OrderedDictionary<String, Value> = [
            "id": .string(id), "kind": .string(kind.rawValue), "created_at": .string(createdAt.iso8601),
            "status": .string(status.rawValue), "workflow": .string(workflow), "version": version.map(Value.string) ?? .null,
            "definition_hash": .string(definitionHash),
        ]
        if let event {
            object["event"] = event.toValue(withPayload: !summary)
            object["dedupe_key"] = dedupeKey.map(Value.string) ?? .null
            if !summary { object["input"] = input }
        }
        if let notification {
            var member: OrderedDictionary<String, Value> = [
                "id": .string(notification.notification.id), "channel": .string(notification.notification.channel),
                "run_id": .string(notification.runID), "attempts": .int(Int64(notification.attempts)),
            ]
            if !summary { member["message"] = notification.notification.message }
            object["notification"] = .object(member)
        }
        object["errors"] = .array(errors.map(Value.string))
        if let runID { object["run_id"] = .string(runID) }
        return .object(object)
    }

    /// Reads back `toValue()` (a store keeps the creation time in its own column); `nil` when a
    /// required member is missing.
    package init?(value: Value, createdAt: Timestamp) {
        // Stored before kinds existed: a refused start.
        let kind = value["kind"]?.stringValue.flatMap(Kind.init(rawValue:)) ?? .refusedStart
        let event = value["event"].flatMap(PostedEvent.init(value:))
        let notification = value["notification"].flatMap(FailedNotification.init(value:))
        guard let id = value["id"]?.stringValue, let workflow = value["workflow"]?.stringValue,
            let hash = value["definition_hash"]?.stringValue, kind == .notificationFailed ? notification != nil : event != nil
        else { return nil }
        self.init(
            id: id, createdAt: createdAt, event: event, dedupeKey: value["dedupe_key"]?.stringValue, workflow: workflow,
            version: value["version"]?.stringValue, definitionHash: hash, input: value["input"] ?? .null, errors: [],
            status: value["status"]?.stringValue.flatMap(Status.init(rawValue:)) ?? .open, kind: kind)
        self.notification = notification
        // Capped when stored: capping again would count the "… and N more" line as an error.
        storedErrors = value["errors"]?.arrayValue?.compactMap(\.stringValue) ?? []
        runID = value["run_id"]?.stringValue
    }
}

extension EventDeadLetter.FailedNotification {
    /// Reads back the `notification` member of `EventDeadLetter.toValue()`.
    init?(value: Value) {
        guard let id = value["id"]?.stringValue, let channel = value["channel"]?.stringValue, let runID = value["run_id"]?.stringValue
        else { return nil }
        self.init(
            runID: runID, notification: QueuedNotification(id: id, channel: channel, message: value["message"] ?? .null),
            attempts: value["attempts"]?.intValue.map(Int.init) ?? 0)
    }
}
