import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowStore
import Testing

/// Event dead letters (issue 13 item 12) in both stores: kept whole, newest first, filtered by
/// workflow, once per id, at most the retention limit (the oldest dropped), durable across a reopen.
@Suite(.timeLimit(.minutes(1))) struct EventDeadLetterStoreTests {
    static func letter(_ number: Int, workflow: String = "orders", errors: [String] = ["amount: must be integer"]) -> EventDeadLetter {
        EventDeadLetter(
            id: "dl-\(number)", createdAt: Timestamp(nanosecondsSinceEpoch: Int64(number) * 1_000_000_000),
            event: PostedEvent(type: "order:placed", payload: ["amount": "ten", "n": .int(Int64(number))], id: "evt-\(number)"),
            dedupeKey: "k\(number)", workflow: workflow, version: "2", definitionHash: "hash", input: ["amount": "ten"], errors: errors)
    }

    /// The same checks on every store, a durable one reopened before reading.
    @Test(arguments: StoreKind.allCases)
    func keptNewestFirstOncePerIDAndBounded(_ kind: StoreKind) async throws {
        let stores = StoreUnderTest(kind, fixture: try StoreFixture(), deadLetterRetention: 3)
        var store = try await stores.open()
        #expect(try await store.recordEventDeadLetter(Self.letter(1)))
        #expect(try await store.recordEventDeadLetter(Self.letter(2, workflow: "refunds")))
        // A second dead letter under a stored id changes nothing.
        #expect(try await store.recordEventDeadLetter(Self.letter(1, workflow: "refunds")) == false)
        #expect(try await store.recordEventDeadLetter(Self.letter(3)))
        #expect(try await store.recordEventDeadLetter(Self.letter(4)))
        if kind != .memory {
            store = InMemoryRunStore()  // lets a SQLite file's owner lock go
            store = try await stores.open()
        }
        // Past the limit (3) the oldest went.
        #expect(try await store.eventDeadLetters(workflow: nil).map(\.id) == ["dl-4", "dl-3", "dl-2"])
        #expect(try await store.eventDeadLetters(workflow: "orders").map(\.id) == ["dl-4", "dl-3"])
        #expect(try await store.eventDeadLetters(workflow: "refunds").map(\.id) == ["dl-2"])
        #expect(try await store.eventDeadLetter(id: "dl-1") == nil)
        #expect(try await store.eventDeadLetter(id: "dl-3") == Self.letter(3))
        #expect(try await store.eventDeadLetter(id: "dl-3")?.toValue() == Self.letter(3).toValue())
    }

    /// A failed trigger's and a failed notification's dead letters are kept whole by every store,
    /// with their kind, beside a refused start; a letter stored before kinds existed reads back
    /// as a refused start.
    @Test(arguments: StoreKind.allCases)
    func everyKindIsKeptWhole(_ kind: StoreKind) async throws {
        let stores = StoreUnderTest(kind, fixture: try StoreFixture())
        var store = try await stores.open()
        var trigger = Self.letter(2)
        trigger.kind = .triggerFailed
        trigger.input = .null
        trigger.errors = ["trigger.when: attempt to index a nil value (field 'customer')"]
        let failed = EventDeadLetter.FailedNotification(
            runID: "run-7", notification: QueuedNotification(id: "run-7:9", channel: "ops_webhook", message: ["event": "run.failed"]),
            attempts: 5)
        let notification = EventDeadLetter(
            notification: failed, createdAt: Timestamp(nanosecondsSinceEpoch: 3_000_000_000), workflow: "orders", version: "2",
            definitionHash: "hash", error: "HttpError: 503")
        #expect(notification.kind == .notificationFailed && notification.id.hasPrefix("dl-") && notification.id.count == 35)
        for letter in [Self.letter(1), trigger, notification] { #expect(try await store.recordEventDeadLetter(letter)) }
        // The same notification dead-lettered again (a delivery retried after a crash) names the stored one.
        #expect(try await store.recordEventDeadLetter(notification) == false)
        if kind != .memory {
            store = InMemoryRunStore()
            store = try await stores.open()
        }
        let stored = try await store.eventDeadLetters(workflow: "orders")
        #expect(stored.map(\.kind) == [.notificationFailed, .triggerFailed, .refusedStart])
        #expect(stored == [notification, trigger, Self.letter(1)])
        #expect(stored.map { $0.toValue() } == [notification, trigger, Self.letter(1)].map { $0.toValue() })
        #expect(notification.toValue(summary: true)["notification"] == ["id": "run-7:9", "channel": "ops_webhook", "run_id": "run-7", "attempts": 5])

        var old = Self.letter(4).toValue()
        old = old.removing(key: "kind")
        #expect(EventDeadLetter(value: old, createdAt: Self.letter(4).createdAt) == Self.letter(4))
    }

    /// A flood of errors cannot fill a dead letter: at most `errorLimit` are kept, each capped
    /// and escaped like every error text.
    @Test(arguments: StoreKind.allCases)
    func errorsAreCappedAndEscaped(_ kind: StoreKind) async throws {
        let stores = StoreUnderTest(kind, fixture: try StoreFixture())
        let store = try await stores.open()
        let huge = "\u{1B}[2Jforged\nline " + String(repeating: "E", count: 1 << 20)
        let letter = Self.letter(1, errors: [huge] + (1...500).map { "item/\($0): must be integer" })
        #expect(try await store.recordEventDeadLetter(letter))
        let stored = try #require(try await store.eventDeadLetter(id: "dl-1"))
        #expect(stored.errors.count == EventDeadLetter.errorLimit + 1)
        #expect(stored.errors.last == "… and 451 more errors")
        let first = try #require(stored.errors.first)
        #expect(first.utf8.count <= SafeText.errorMessageLimit)
        #expect(first.hasPrefix("\\u{1B}[2Jforged\\nline EEE"))
    }

    @Test func theDefaultRetentionIsTenThousand() {
        #expect(EventDeadLetter.retentionLimit == 10_000)
        #expect(SQLiteStoreOptions().deadLetterRetention == 10_000)
    }
}

extension Value {
    func removing(key: String) -> Value {
        guard case .object(var object) = self else { return self }
        object[key] = nil
        return .object(object)
    }
}
