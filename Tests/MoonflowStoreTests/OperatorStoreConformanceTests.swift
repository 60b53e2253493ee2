import Foundation
import MoonflowEngine
import MoonflowModel
import Testing

/// What operating a run writes (docs/operations.md), on every store: a paused run is kept as
/// `paused` and unfinished across a restart and continues from its breakpoint; a redrive under
/// the current definition re-pins the run in the transaction of its `run.redriven`; a dead
/// letter's new status is written over the stored one.
@Suite(.timeLimit(.minutes(1))) struct OperatorStoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func aPausedRunStaysPausedAcrossARestartAndContinuesFromItsBreakpoint(_ kind: StoreKind) async throws {
        let fixture = try StoreFixture(workflows: ["three": threeSteps])
        let stores = StoreUnderTest(kind, fixture: fixture)
        do {
            let store = try await stores.open()
            let engine = fixture.engine(store)
            let id = try await engine.start(try fixture.pinned("three"), input: [:], runID: "p1", breakBefore: ["b"])
            #expect(try await engine.drive(id) == .paused)
            try await expectConsistent(store)
        }
        let store = try await stores.open()
        let engine = fixture.engine(store)
        #expect(try await store.runs(status: [.paused]).map(\.id) == ["p1"])
        #expect(try await store.runs(status: RunStatus.unfinished).map(\.id) == ["p1"])
        // A restart drives what the paused run had in flight (nothing) and leaves it paused.
        #expect(try await engine.resumeAll().map(\.runID) == ["p1"])
        #expect(try await store.state(of: "p1")?.status == .paused)
        #expect(try await engine.unpause("p1") == .completed)
        #expect(try await store.state(of: "p1")?.context["count"] == 2)
        try await expectConsistent(store)
    }

    @Test(arguments: StoreKind.allCases)
    func aRedriveUnderTheCurrentDefinitionRepinsTheRun(_ kind: StoreKind) async throws {
        let broken = """
            workflow: pay
            activities:
              - {name: reserve, run: "return 1"}
              - {name: charge, needs: [reserve], run: "error({type = 'Bug', message = 'typo', retryable = false})"}
            """
        let fixture = try StoreFixture(workflows: ["pay": broken])
        let stores = StoreUnderTest(kind, fixture: fixture)
        let store = try await stores.open()
        let engine = fixture.engine(store)
        let id = try await engine.start(try fixture.pinned("pay"), input: [:], runID: "d1")
        #expect(try await engine.drive(id) == .failed)
        let first = try #require(try await store.state(of: id)?.definitionHash)
        try fixture.write("workflows/pay.yaml", broken.replacingOccurrences(of: "error({type = 'Bug', message = 'typo', retryable = false})", with: "return 2"))
        let latest = try fixture.pinned("pay")
        #expect(try await engine.redrive(id, latest: latest) == .completed)
        let state = try #require(try await store.state(of: id))
        #expect(state.definitionHash == latest.hash && latest.hash != first)
        #expect(try await store.definition(of: id)?.hash == latest.hash)
        let journal = try await store.journal(of: id)
        #expect(journal.filter { $0.activity == "reserve" && $0.type == .activityStarted }.count == 1)
        #expect(journal.contains { $0.type == .runRedriven && $0.data["previous_definition_hash"] == .string(first) })
        try await expectConsistent(store)
    }

    @Test(arguments: StoreKind.allCases)
    func aDeadLettersNewStatusIsStored(_ kind: StoreKind) async throws {
        let fixture = try StoreFixture(workflows: ["three": threeSteps])
        let stores = StoreUnderTest(kind, fixture: fixture)
        let store = try await stores.open()
        var letter = EventDeadLetter(
            id: "dl-1", createdAt: Timestamp(nanosecondsSinceEpoch: 1_000), event: PostedEvent(type: "order:placed", payload: ["a": 1]),
            dedupeKey: nil, workflow: "three", version: nil, definitionHash: "h", input: ["a": 1], errors: ["a: no"])
        #expect(try await store.recordEventDeadLetter(letter))
        letter.status = .redriven
        letter.runID = "run-9"
        #expect(try await store.updateEventDeadLetter(letter))
        let stored = try #require(try await store.eventDeadLetter(id: "dl-1"))
        #expect(stored.status == .redriven && stored.runID == "run-9")
        #expect(stored.errors == ["a: no"])
        letter.id = "dl-missing"
        #expect(try await store.updateEventDeadLetter(letter) == false)
        #expect(try await store.eventDeadLetters(workflow: nil).count == 1)
    }
}
