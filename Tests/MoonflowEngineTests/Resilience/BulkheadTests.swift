import MoonflowEngine
import MoonflowModel
import Testing

@Suite("Bulkhead machine (docs/resilience.md)")
struct BulkheadMachineTests {
    @Test("a free permit with nobody waiting is granted at once; then FIFO up to max_queue_size; beyond: BulkheadFull")
    func grantQueueReject() {
        var machine = BulkheadMachine(policy: BulkheadPolicy(name: "b", maxConcurrent: 2, maxQueueSize: 2, timeout: .seconds(5)))
        #expect(machine.request(1, now: t0) == .granted)
        #expect(machine.request(2, now: t0) == .granted)
        #expect(machine.request(3, now: t0) == .queued(deadline: t0 + .seconds(5)))
        #expect(machine.request(4, now: t0 + .seconds(1)) == .queued(deadline: t0 + .seconds(6)))
        guard case .rejected(let failure) = machine.request(5, now: t0) else {
            Issue.record("expected BulkheadFull")
            return
        }
        #expect(failure.type == .bulkheadFull)
        #expect(machine.release(2) == [3])
        #expect(machine.release(2) == [])  // twice: nothing
        #expect(machine.release(1) == [4])
        #expect(machine.snapshot == BulkheadSnapshot(name: "b", maxConcurrent: 2, maxQueueSize: 2, inUse: 2, queued: 0))
    }

    @Test("a waiter is not served ahead of an earlier one even when a permit frees as it arrives")
    func noBargingPastTheQueue() {
        var machine = BulkheadMachine(policy: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5))
        _ = machine.request(1, now: t0)
        _ = machine.request(2, now: t0)
        #expect(machine.release(1) == [2])
        #expect(machine.request(3, now: t0) == .queued(deadline: nil))
    }

    @Test("expiry removes exactly the waiters whose deadline has come; notAfter shortens the wait")
    func expiry() {
        var machine = BulkheadMachine(policy: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5, timeout: .seconds(10)))
        _ = machine.request(1, now: t0)
        #expect(machine.request(2, now: t0) == .queued(deadline: t0 + .seconds(10)))
        #expect(machine.request(3, now: t0, notAfter: t0 + .seconds(3)) == .queued(deadline: t0 + .seconds(3)))
        #expect(machine.expire(now: t0 + .seconds(3) - .nanoseconds(1)) == [])
        #expect(machine.expire(now: t0 + .seconds(3)) == [3])
        #expect(machine.release(1) == [2])
    }

    @Test("a withdrawn waiter neither takes nor skips anyone's turn")
    func withdraw() {
        var machine = BulkheadMachine(policy: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5))
        _ = machine.request(1, now: t0)
        _ = machine.request(2, now: t0)
        _ = machine.request(3, now: t0)
        let withdrawn = machine.withdraw(2)
        let again = machine.withdraw(2)
        #expect(withdrawn && !again)
        #expect(machine.release(1) == [3])
    }

    @Test("raising max_concurrent admits waiters at once; lowering it revokes nothing")
    func reload() {
        var machine = BulkheadMachine(policy: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5))
        for id in 1...4 { _ = machine.request(UInt64(id), now: t0) }
        #expect(machine.update(policy: BulkheadPolicy(name: "b", maxConcurrent: 3, maxQueueSize: 5)) == [2, 3])
        #expect(machine.update(policy: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5)) == [])
        #expect(machine.inUse == 3)
        #expect(machine.release(1) == [] && machine.release(2) == [] && machine.release(3) == [4])
    }
}

@Suite("Bulkhead wrapper (docs/resilience.md)")
struct BulkheadTests {
    @Test("100 concurrent callers never exceed the limit and are served in FIFO order")
    func hundredCallers() async throws {
        let clock = ManualClock()
        let bulkhead = Bulkhead(policy: BulkheadPolicy(name: "b", maxConcurrent: 3, maxQueueSize: 1000), clock: clock)
        let inUse = Shared((now: 0, peak: 0))
        let served = EventLog()
        // Callers hold their permit until the test opens their gate.
        let gates = Shared(Set<Int>())
        // The test holds the first three permits so every caller queues, in a known order.
        let held = [try await bulkhead.acquire(), try await bulkhead.acquire(), try await bulkhead.acquire()]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<100 {
                group.addTask {
                    try await bulkhead.withPermit { _ in
                        inUse.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
                        served.append("\(caller)")
                        while !gates.value.contains(caller) { await Task.yield() }
                        inUse.withLock { $0.now -= 1 }
                    }
                }
                await waitUntil("caller \(caller) queued") { bulkhead.snapshot().queued == caller + 1 }
            }
            // Free one permit at a time: exactly the next caller in line gets it.
            for caller in 0..<100 {
                if caller < 3 { bulkhead.release(held[caller]) } else { _ = gates.withLock { $0.insert(caller - 3) } }
                await waitUntil("caller \(caller) served") { served.all.count == caller + 1 }
                #expect(served.all.last == "\(caller)")
                #expect(bulkhead.snapshot().inUse <= 3)
            }
            gates.withLock { $0.formUnion(97..<100) }
            try await group.waitForAll()
        }
        #expect(inUse.value.peak == 3)
        #expect(bulkhead.snapshot().inUse == 0 && bulkhead.snapshot().queued == 0)
    }

    @Test("queue full fails at once with BulkheadFull")
    func queueFull() async throws {
        let clock = ManualClock()
        let bulkhead = Bulkhead(policy: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 0), clock: clock)
        let permit = try await bulkhead.acquire()
        await #expect(throws: ActivityFailure.self) { try await bulkhead.acquire() }
        do {
            _ = try await bulkhead.acquire()
        } catch {
            #expect(error.type == .bulkheadFull)
        }
        bulkhead.release(permit)
        bulkhead.release(try await bulkhead.acquire())
    }

    @Test("a waiter not served within timeout fails with BulkheadTimeout, exactly at the deadline")
    func queueTimeout() async throws {
        let clock = ManualClock()
        let bulkhead = Bulkhead(policy: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5, timeout: .seconds(2)), clock: clock)
        let permit = try await bulkhead.acquire()
        let waiter = Task { () async -> ErrorType? in
            do throws(ActivityFailure) {
                _ = try await bulkhead.acquire()
                return nil
            } catch { return error.type }
        }
        await waitForSleepers(clock, 1)
        #expect(clock.nextDeadline == clock.now + .seconds(2))
        clock.advance(by: .seconds(2) - .nanoseconds(1))
        #expect(bulkhead.snapshot().queued == 1)
        clock.advance(by: .nanoseconds(1))
        #expect(await waiter.value == .bulkheadTimeout)
        #expect(bulkhead.snapshot() == BulkheadSnapshot(name: "b", maxConcurrent: 1, maxQueueSize: 5, inUse: 1, queued: 0))
        bulkhead.release(permit)
        #expect(bulkhead.snapshot().inUse == 0)
    }

    @Test("a waiter served in time does not time out later, and its timer is gone")
    func servedBeforeTimeout() async throws {
        let clock = ManualClock()
        let bulkhead = Bulkhead(policy: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5, timeout: .seconds(2)), clock: clock)
        let permit = try await bulkhead.acquire()
        let waiter = Task { try await bulkhead.acquire() }
        await waitForSleepers(clock, 1)
        clock.advance(by: .seconds(1))
        bulkhead.release(permit)
        let second = try await waiter.value
        #expect(second.grantedAt == clock.now)
        await waitForSleepers(clock, 0)
        clock.advance(by: .seconds(5))
        #expect(bulkhead.snapshot().inUse == 1)
    }

    @Test("cancellation while queued leaves the queue without leaking or skipping a waiter")
    func cancelWhileQueued() async throws {
        let clock = ManualClock()
        let bulkhead = Bulkhead(policy: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5), clock: clock)
        let permit = try await bulkhead.acquire()
        let first = Task { () async -> ErrorType? in
            do throws(ActivityFailure) {
                _ = try await bulkhead.acquire()
                return nil
            } catch { return error.type }
        }
        await waitUntil("first queued") { bulkhead.snapshot().queued == 1 }
        let second = Task { try await bulkhead.acquire() }
        await waitUntil("second queued") { bulkhead.snapshot().queued == 2 }
        first.cancel()
        #expect(await first.value == .cancelled)
        #expect(bulkhead.snapshot().queued == 1)
        bulkhead.release(permit)
        let next = try await second.value
        #expect(bulkhead.snapshot().inUse == 1)
        bulkhead.release(next)
        #expect(bulkhead.snapshot() == BulkheadSnapshot(name: "b", maxConcurrent: 1, maxQueueSize: 5, inUse: 0, queued: 0))
    }

    @Test("cancellation while holding a permit releases it to the next waiter")
    func cancelWhileHolding() async throws {
        let clock = ManualClock()
        let bulkhead = Bulkhead(policy: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5), clock: clock)
        let holder = Task {
            try await bulkhead.withPermit { _ in try? await clock.sleep(until: clock.now + .seconds(3600)) }
        }
        await waitForSleepers(clock, 1)
        let waiter = Task { try await bulkhead.acquire() }
        await waitUntil("waiter queued") { bulkhead.snapshot().queued == 1 }
        holder.cancel()
        try await holder.value
        let permit = try await waiter.value
        #expect(bulkhead.snapshot().inUse == 1)
        bulkhead.release(permit)
    }

    @Test("raising max_concurrent through the registry admits waiters at once and keeps the holders")
    func registryReload() async throws {
        let clock = ManualClock()
        let registry = BulkheadRegistry(clock: clock)
        let v1 = BulkheadPolicy(name: "crm", maxConcurrent: 1, maxQueueSize: 10)
        let bulkhead = registry.bulkhead(for: v1)
        let permit = try await bulkhead.acquire()
        let waiters = (0..<2).map { _ in Task { try await registry.bulkhead(for: v1).acquire() } }
        await waitUntil("two queued") { bulkhead.snapshot().queued == 2 }
        let reloaded = registry.bulkhead(for: BulkheadPolicy(name: "crm", maxConcurrent: 3, maxQueueSize: 10))
        #expect(reloaded === bulkhead)
        for waiter in waiters { _ = try await waiter.value }
        #expect(registry.snapshots() == [BulkheadSnapshot(name: "crm", maxConcurrent: 3, maxQueueSize: 10, inUse: 3, queued: 0)])
        bulkhead.release(permit)
        #expect(registry.snapshot(named: "crm")?.inUse == 2)
        #expect(registry.snapshot(named: "other") == nil)
    }

    @Test("the max_activities gate queues without limit and never times out")
    func activityGate() async throws {
        let clock = ManualClock()
        let gate = Bulkhead.activityGate(maxActivities: 1, clock: clock)
        let permit = try await gate.acquire()
        // Each waiter gives its permit back as soon as it has it: they queue in the order their
        // tasks happen to run, not in array order, so releasing in array order could deadlock.
        let waiters = (0..<50).map { _ in Task { gate.release(try await gate.acquire()) } }
        await waitUntil("all queued") { gate.snapshot().queued == 50 }
        #expect(clock.sleeperCount == 0)
        gate.release(permit)
        for waiter in waiters { try await waiter.value }
        #expect(gate.snapshot().inUse == 0)
        #expect(gate.snapshot().queued == 0)
    }
}
