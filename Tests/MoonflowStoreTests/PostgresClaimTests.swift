import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
@testable import MoonflowPostgres
import MoonflowTestSupport
import Testing

/// Claims across engine processes (docs/scale-out.md), with stores in one test process standing in
/// for processes: owner and epoch checked on every write, takeover once a lease ends, a lost claim
/// refused, due timers claimed by one process, runs handed over at once by a clean stop.
@Suite(.timeLimit(.minutes(2)), .enabled(if: PostgresCluster.installed, Comment(rawValue: PostgresCluster.notInstalled)))
struct PostgresClaimTests {
    static func open(_ url: String, lease: Duration = .seconds(30)) async throws -> PostgresRunStore {
        try await PostgresRunStore.open(
            PostgresStoreOptions(try PostgresLocation(url: url, tls: .disable), lease: lease),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    static func step(_ store: PostgresRunStore, _ runID: String, attempt: Int) async throws {
        var state = try #require(try await store.state(of: runID))
        let event = RunEvent(.activityStarted, runID: runID, workflow: "w", activity: "a", attempt: attempt, at: Timestamp(Date()))
        state.apply(event)
        try await store.append(runID, events: [event], newState: state)
    }

    @Test func aRunIsTakenOverWhenItsOwnersLeaseEndsAndTheOldOwnerIsFencedOff() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await cluster.createDatabase()
        let database = String(url.split(separator: "/").last!)
        let (a, b) = (try await Self.open(url), try await Self.open(url))
        _ = try await EventPositionStoreTests.drive(a, runs: 3, steps: 1)
        #expect(try await b.claimReadyRuns(limit: 10).isEmpty)
        // a stops heartbeating (stalled, or its network is cut): its lease runs out.
        try await cluster.psql("UPDATE processes SET lease_until = now() WHERE id = '\(a.processID)'", database: database)
        #expect(try await b.claimReadyRuns(limit: 10).sorted() == ["r0", "r1", "r2"])
        #expect(try await b.claimReadyRuns(limit: 10).isEmpty)
        try await Self.step(b, "r0", attempt: 1)
        // a comes back: its claim on r1 (epoch 1) is b's now (epoch 2): refused, never retried blindly.
        await #expect(throws: RunStoreError.claimLost(runID: "r1")) { try await Self.step(a, "r1", attempt: 1) }
        await #expect(throws: RunStoreError.ownedElsewhere(runID: "r1", owner: b.processID)) { try await Self.step(a, "r1", attempt: 1) }
        let epochs = try await cluster.psql("SELECT string_agg(epoch::text, ',' ORDER BY id) FROM runs", database: database)
        #expect(epochs.trimmingCharacters(in: .whitespacesAndNewlines) == "2,2,2")
        try await expectConsistent(b)
    }

    /// A driver starts from the state its process's own last write stored, while that process's
    /// claim holds (no round trip); once the claim is lost, from the database's.
    @Test func theStateToDriveIsTheOwnLastWriteWhileTheClaimHolds() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await cluster.createDatabase()
        let database = String(url.split(separator: "/").last!)
        let (a, b) = (try await Self.open(url), try await Self.open(url))
        _ = try await EventPositionStoreTests.drive(a, runs: 1, steps: 1)
        try await Self.step(a, "r0", attempt: 1)
        let written = try #require(try await a.stateToDrive(of: "r0"))
        #expect(written == (try await a.state(of: "r0")))
        // The journal loses its last row behind the store's back (as no writer does): the state
        // to drive is still a's own write, not read back.
        try await cluster.psql(
            "DELETE FROM journal WHERE run_id = 'r0' AND seq = (SELECT max(seq) FROM journal WHERE run_id = 'r0')", database: database)
        let stored = try #require(try await a.state(of: "r0"))
        #expect(stored.journalLength == written.journalLength - 1)
        #expect(try await a.stateToDrive(of: "r0") == written)
        // b takes the run over; a's next write is refused, and a reads the database from then on.
        try await cluster.psql("UPDATE processes SET lease_until = now() WHERE id = '\(a.processID)'", database: database)
        #expect(try await b.claimReadyRuns(limit: 10) == ["r0"])
        await #expect(throws: RunStoreError.claimLost(runID: "r0")) { try await Self.step(a, "r0", attempt: 2) }
        #expect(try await a.stateToDrive(of: "r0") == stored)
        // b never wrote the run: it drives from what is stored.
        #expect(try await b.stateToDrive(of: "r0") == stored)
    }

    @Test func aShortLeaseEndsWithoutHeartbeatsAndTheRunsAreClaimedInBatches() async throws {
        let url = try await PostgresCluster.shared().createDatabase()
        var a: PostgresRunStore? = try await Self.open(url, lease: .seconds(1))
        _ = try await EventPositionStoreTests.drive(a!, runs: 5, steps: 1)
        let b = try await Self.open(url, lease: .seconds(1))
        // a's heartbeat keeps its lease while it lives.
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await b.claimReadyRuns(limit: 10).isEmpty)
        a = nil
        try await Task.sleep(for: .milliseconds(1500))
        let first = try await b.claimReadyRuns(limit: 2)
        let rest = try await b.claimReadyRuns(limit: 10)
        #expect(first.count == 2)
        #expect((first + rest).sorted() == ["r0", "r1", "r2", "r3", "r4"])
        #expect(a == nil)
    }

    @Test func aCleanStopHandsRunsOverAtOnceAndWakesTheOthers() async throws {
        let url = try await PostgresCluster.shared().createDatabase()
        let (a, b) = (try await Self.open(url), try await Self.open(url))
        _ = try await EventPositionStoreTests.drive(a, runs: 2, steps: 1)
        try await Task.sleep(for: .milliseconds(300))  // b's listener is up
        let clock = ContinuousClock()
        async let woken = clock.measure { await b.waitForWork(timeout: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(200))
        try await a.releaseAll()
        #expect(await woken < .seconds(10))
        #expect(try await b.claimReadyRuns(limit: 10).sorted() == ["r0", "r1"])
        #expect(try await b.processes().map(\.id) == [b.processID])
    }

    /// A run sleeping 3 s in one process, due while both look: it fires in one of them, once. (The
    /// look before it is due must come within those 3 s, which a loaded machine took more than 1 s for.)
    @Test func aDueTimerIsClaimedByOneProcess() async throws {
        let fixture = try StoreFixture(workflows: [
            "nap": "workflow: nap\nactivities:\n  - {name: nap, call: sleep, with: {duration: 3s}}\n  - {name: after, run: return 1}\n"
        ])
        let url = try await PostgresCluster.shared().createDatabase()
        let (a, b) = (try await Self.open(url), try await Self.open(url))
        let engine = fixture.engine(a)
        let id = try await engine.start(try fixture.pinned("nap"), input: [:], runID: "n1")
        #expect(try await engine.drive(id) == .waiting)
        // Waiting, the run is nobody's.
        #expect(try await a.processes().allSatisfy { $0.runsOwned == 0 })
        // Looked at before it is due (the timer service sleeps until it), it stays nobody's.
        #expect(try await b.dueTimers(at: Timestamp(Date()) + .seconds(5)).map(\.runID) == ["n1"])
        #expect(try await a.processes().allSatisfy { $0.runsOwned == 0 })
        try await Task.sleep(for: .milliseconds(3100))
        let now = Timestamp(Date())
        async let fromA = a.dueTimers(at: now)
        async let fromB = b.dueTimers(at: now)
        let (dueA, dueB) = try await (fromA, fromB)
        #expect((dueA + dueB).map(\.runID) == ["n1"])
        let (winner, loser) = dueA.isEmpty ? (b, a) : (a, b)
        #expect(try await loser.dueTimers(at: Timestamp(Date())).isEmpty)
        #expect(try await fixture.engine(winner).fireDueTimers() == ["n1"])
        #expect(try await winner.state(of: "n1")?.status == .completed)
        try await expectConsistent(winner)
    }

    /// Three processes firing the same schedule tick, and posting the same keyed event: one run each.
    @Test func aScheduleTickAndAnEventKeyStartOneRunAcrossProcesses() async throws {
        let fixture = try StoreFixture(workflows: ["tick": "workflow: tick\nactivities:\n  - {name: a, run: return 1}\n"])
        let url = try await PostgresCluster.shared().createDatabase()
        var engines: [Engine] = []
        for _ in 0..<3 { engines.append(fixture.engine(try await Self.open(url))) }
        let pinned = try fixture.pinned("tick")
        let tick = Timestamp(nanosecondsSinceEpoch: 1_800_000_000_000_000_000)
        let scheduled = try await withThrowingTaskGroup(of: Bool.self) { group in
            for engine in engines { group.addTask { try await engine.startScheduled(pinned, tick: tick, event: nil).created } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(scheduled.filter { $0 }.count == 1)
        let keyed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for engine in engines {
                group.addTask { try await engine.startTriggered(pinned, input: [:], key: "order-7", event: nil).created }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(keyed.filter { $0 }.count == 1)
    }
}
