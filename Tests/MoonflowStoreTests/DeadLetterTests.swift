import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowStore
import Testing

/// A dead letter's reason is an error text like any other (capped, control characters escaped):
/// whatever failed a recovery, its description cannot fill the store or forge a line when shown.
@Suite struct DeadLetterTests {
    @Test(arguments: StoreKind.durable)
    func aDeadLetterReasonIsStoredCappedAndEscaped(_ kind: StoreKind) async throws {
        let stores = StoreUnderTest(kind, fixture: try StoreFixture())
        let store = try await stores.openDurable()
        let huge = "\u{1B}[2Jforged\nline " + String(repeating: "E", count: 20 << 20)
        try await store.recordDeadLetter(runID: "r1", reason: huge, at: Timestamp(nanosecondsSinceEpoch: 0))
        let letters = try await store.deadLetters()
        #expect(letters.count == 1)
        let reason = try #require(letters.first?.reason)
        #expect(reason.utf8.count <= SafeText.errorMessageLimit)
        #expect(reason.hasPrefix("\\u{1B}[2Jforged\\nline EEE"))
        #expect(reason.hasSuffix("[truncated: \(huge.utf8.count) bytes in all]"))
    }
}
