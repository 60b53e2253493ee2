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
