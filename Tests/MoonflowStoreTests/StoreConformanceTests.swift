import Foundation
import GRDB
import MoonflowEngine
import MoonflowModel
import MoonflowStore
import Testing

/// The store conformance suite: the `RunStore` semantics every store keeps — runs driven and read
/// back after a restart, pinned definitions, idempotent starts, the run queue, tasks, refused stale
/// appends (docs/durability.md, docs/reload.md) — run against each store.
@Suite(.timeLimit(.minutes(1))) struct StoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func aRunIsDrivenDurablyAndReadBackAfterReopening(_ kind: StoreKind) async throws {
        let fixture = try StoreFixture(workflows: ["three": threeSteps])
        let stores = StoreUnderTest(kind, fixture: fixture)
        do {
            let store = try await stores.open()
            let engine = fixture.engine(store)
            let id = try await engine.start(try fixture.pinned("three"), input: [:], runID: "r1")
            #expect(try await engine.drive(id) == .completed)
            try await expectConsistent(store)
        }
        let store = try await stores.open()
        let state = try #require(try await store.state(of: "r1"))
        #expect(state.status == .completed)
        #expect(state.context["count"] == 2)
        #expect(state.output?["n"] == 3)
        #expect(state.output?["key"] == "r1:c")
        let report = try await fixture.engine(store).report("r1")
        #expect(report.activities.map(\.seq) == [1, 2, 3])
        if let sqlite = store as? SQLiteRunStore {
            #expect(try await sqlite.summaries(status: .completed, workflow: "three").map(\.id) == ["r1"])
        }
        try await expectConsistent(store)
    }

    @Test(arguments: StoreKind.allCases)
    func startsWithAnExistingRunIDReturnTheExistingRun(_ kind: StoreKind) async throws {
        let fixture = try StoreFixture(workflows: ["three": threeSteps])
        let stores = StoreUnderTest(kind, fixture: fixture)
        let store = try await stores.open()
        let engine = fixture.engine(store)
        let pinned = try fixture.pinned("three")
        #expect(try await engine.start(pinned, input: ["x": 1], runID: "same") == "same")
        #expect(try await engine.start(pinned, input: ["x": 1], runID: "same") == "same")
        // Another input under the id is a conflict (issue 12 item 4), and writes nothing.
        await #expect(throws: EngineError.self) { try await engine.start(pinned, input: ["x": 2], runID: "same") }
        #expect(try await store.journal(of: "same").count == 1)
        #expect(try await store.state(of: "same")?.input == ["x": 1])
        try await expectConsistent(store)
    }

    @Test(arguments: StoreKind.allCases)
    func theRunQueueSurvivesARestartInItsPriorityOrder(_ kind: StoreKind) async throws {
        let gated = """
            workflow: gated
            concurrency:
              max_workflows: 1
              queuing: {strategy: priority, timeout: 1h}
            activities:
              - {name: a, run: return 1}
            """
        let fixture = try StoreFixture(workflows: ["gated": gated])
        let stores = StoreUnderTest(kind, fixture: fixture)
        do {
            let store = try await stores.open()
            let engine = fixture.engine(store)
            let pinned = try fixture.pinned("gated")
            // Admitted (it holds the only slot) but not started when the process stops.
            _ = try await engine.start(pinned, input: [:], runID: "holder")
            for (id, priority) in [("low", -1), ("high", 1), ("normal", 0), ("high2", 1)] {
                _ = try await engine.start(pinned, input: [:], runID: id, priority: priority)
            }
            let queued = try await queueEntries(store)
            #expect(queued.map(\.runID) == ["low", "high", "normal", "high2"])
            #expect(queued.map(\.priority) == [-1, 1, 0, 1])
            #expect(queued.allSatisfy { $0.deadline == $0.enqueuedAt + .seconds(3600) })
            let last = try #require(queued.compactMap(\.deadline).max())
            #expect(try await store.dueTimers(at: last).map(\.runID).sorted() == queued.map(\.runID).sorted())
            try await expectConsistent(store)
        }
        let store = try await stores.open()
        let recovered = try await fixture.engine(store).resumeAll()
        #expect(recovered.map(\.runID) == ["holder", "high", "high2", "normal", "low"])
        #expect(try await store.runs(status: nil).allSatisfy { $0.status == .completed })
        #expect(try await queueEntries(store).isEmpty)
        try await expectConsistent(store)
    }

    @Test(arguments: StoreKind.allCases)
    func eachDefinitionVersionIsStoredOnce(_ kind: StoreKind) async throws {
        let fixture = try StoreFixture(workflows: ["three": threeSteps])
        let stores = StoreUnderTest(kind, fixture: fixture)
        let store = try await stores.open()
        let engine = fixture.engine(store)
        _ = try await engine.start(try fixture.pinned("three"), input: [:], runID: "v1a")
        _ = try await engine.start(try fixture.pinned("three"), input: [:], runID: "v1b")
        try fixture.write("workflows/three.yaml", threeSteps.replacingOccurrences(of: "n = 1", with: "n = 10"))
        let changed = try fixture.pinned("three")
        _ = try await engine.start(changed, input: [:], runID: "v2")
        if let durable = store as? any DurableRunStore {
            let versions = try await durable.definitionVersions(of: "three")
            #expect(versions.map(\.version) == [1, 2])
            #expect(versions.last?.hash == changed.hash)
        }
        #expect(try await store.definition(of: "v1b")?.hash == store.definition(of: "v1a")?.hash)
        #expect(try await store.definition(of: "v2")?.files == changed.definition.files)
        try await expectConsistent(store)
    }

    @Test(arguments: StoreKind.allCases)
    func aRunContinuesWithItsPinnedDefinitionAfterTheFilesChange(_ kind: StoreKind) async throws {
        let fixture = try StoreFixture(workflows: ["approval": approval])
        let stores = StoreUnderTest(kind, fixture: fixture)
        do {
            let store = try await stores.open()
            let engine = fixture.engine(store)
            let id = try await engine.start(try fixture.pinned("approval"), input: [:], runID: "p1")
            #expect(try await engine.drive(id) == .waiting)
        }
        try fixture.write("workflows/approval.yaml", approval.replacingOccurrences(of: "version = 1", with: "version = 2"))
        let store = try await stores.open()
        let engine = fixture.engine(store)
        let task = try #require(try await store.tasks(status: .open).first)
        await #expect(throws: TaskCompletionError.self) {
            _ = try await engine.completeTask(task.id, data: ["ok": "yes"], user: TaskUser("alice"))
        }
        await #expect(throws: TaskCompletionError.self) {
            _ = try await engine.completeTask(task.id, data: ["ok": true], user: TaskUser("mallory"))
        }
        #expect(try await engine.completeTask(task.id, data: ["ok": true], user: TaskUser("alice")) == .completed)
        #expect(try await store.state(of: "p1")?.output == ["version": 1, "ok": true])
        #expect(try await store.task(id: task.id)?.status == .completed)
        #expect(try await store.task(id: task.id)?.tokenDigest == task.tokenDigest)
        do {
            _ = try await engine.completeTask(task.id, data: ["ok": false], user: TaskUser("alice"))
            Issue.record("a second completion must be refused")
        } catch let error as TaskCompletionError {
            #expect(error.code == "already_completed")
        }
        try await expectConsistent(store)
    }

    /// A task without a form takes any data. (Folding its `form: null` as a `null` schema made
    /// every completion fail: "the schema cannot be used".)
    @Test(arguments: StoreKind.allCases)
    func aTaskWithoutAFormIsCompletedWithAnyData(_ kind: StoreKind) async throws {
        let fixture = try StoreFixture(workflows: ["sign": "workflow: sign\nactivities:\n  - name: sign\n    type: manual\n    assign: [alice]\n"])
        let stores = StoreUnderTest(kind, fixture: fixture)
        let store = try await stores.open()
        let engine = fixture.engine(store)
        _ = try await engine.start(try fixture.pinned("sign"), input: [:], runID: "s1")
        #expect(try await engine.drive("s1") == .waiting)
        #expect(try await store.task(id: "s1:sign:1")?.form == nil)
        #expect(try await engine.completeTask("s1:sign:1", data: ["signed": true], user: TaskUser("alice")) == .completed)
        try await expectConsistent(store)
    }

    @Test(arguments: StoreKind.allCases)
    func anAppendAgainstAStaleJournalIsRefused(_ kind: StoreKind) async throws {
        let fixture = try StoreFixture(workflows: ["three": threeSteps])
        let stores = StoreUnderTest(kind, fixture: fixture)
        let store = try await stores.open()
        let engine = fixture.engine(store)
        _ = try await engine.start(try fixture.pinned("three"), input: [:], runID: "c1")
        var state = try #require(try await store.state(of: "c1"))
        let started = RunEvent(.runStarted(deadline: nil), runID: "c1", workflow: "three", at: state.queuedAt)
        state.apply(started)
        try await store.append("c1", events: [started], newState: state)
        await #expect(throws: RunStoreError.conflict(runID: "c1", expectedLength: 1, actualLength: 2)) {
            try await store.append("c1", events: [started], newState: state)
        }
        try await expectConsistent(store)
    }

    @Test(arguments: StoreKind.allCases)
    func resumeCompensationRerunsOnlyTheFailedCompensation(_ kind: StoreKind) async throws {
        let saga = """
            workflow: saga
            compensation: {on_error: continue}
            activities:
              - name: a
                run: return 1
                compensate: {run: "return 1"}
              - name: b
                needs: [a]
                run: return 2
                compensate:
                  run: error({type = "Down", message = "still down"})
                  retry: {max_attempts: 1}
              - name: c
                needs: [b]
                run: error("boom")
            """
        let fixture = try StoreFixture(workflows: ["saga": saga])
        let stores = StoreUnderTest(kind, fixture: fixture)
        let store = try await stores.open()
        let engine = fixture.engine(store)
        let id = try await engine.start(try fixture.pinned("saga"), input: [:], runID: "s1")
        #expect(try await engine.drive(id) == .compensationFailed)
        #expect(try await store.state(of: id)?.compensations.map(\.status) == [.failed, .completed])
        #expect(try await engine.resumeCompensation(id) == .compensationFailed)
        let journal = try await store.journal(of: id)
        let starts = journal.filter { $0.type == .compensationStarted }.map { $0.activity ?? "" }
        #expect(starts == ["b", "a", "b"])
        #expect(journal.filter { $0.type == .runCompensationResumed }.count == 1)
        await #expect(throws: EngineError.self) { _ = try await engine.resumeCompensation("nope") }
        _ = try await engine.start(try fixture.pinned("saga"), input: [:], runID: "s2")
        await #expect(throws: EngineError.notCompensationFailed("s2", .queued)) { _ = try await engine.resumeCompensation("s2") }
        try await expectConsistent(store)
    }
}

/// The run queue: a durable store's `run_queue` table; the in-memory store's queued runs in queue order.
func queueEntries(_ store: any RunStore) async throws -> [RunQueueEntry] {
    if let durable = store as? any DurableRunStore { return try await durable.queuedRuns() }
    return try await store.runs(status: [.queued]).compactMap { state in
        state.queuePlace.map {
            RunQueueEntry(
                runID: state.id, workflow: state.workflow, priority: state.priority, sequence: $0.sequence, enqueuedAt: state.queuedAt,
                deadline: $0.deadline)
        }
    }.sorted { $0.sequence < $1.sequence }
}
