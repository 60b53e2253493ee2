import Dispatch
import Foundation
import MoonflowModel
import Synchronization

/// The thread a pool job runs on, with the sandbox it owns (created lazily, replaced after a trip).
final class LuaWorker {
    private var sandbox: LuaSandbox?
    private let testLedger: LuaTestLedger?

    init(testLedger: LuaTestLedger?) {
        self.testLedger = testLedger
    }

    /// Runs `body` with this thread's sandbox; a sandbox left unusable is dropped.
    func perform<T>(_ body: (LuaSandbox) throws(ActivityFailure) -> T) -> Result<T, ActivityFailure> {
        do throws(ActivityFailure) {
            let current: LuaSandbox
            if let sandbox {
                current = sandbox
            } else {
                current = try LuaSandbox(testLedger: testLedger)
                sandbox = current
            }
            defer { if !current.isUsable { sandbox = nil } }
            return .success(try body(current))
        } catch {
            return .failure(error)
        }
    }
}

/// A small pool of dedicated threads (large stacks, off Swift's cooperative pool) that run Lua.
/// Each thread owns one sandbox at a time; jobs are taken in submission order.
final class LuaThreadPool: Sendable {
    typealias Job = @Sendable (LuaWorker) -> Void

    /// Pending jobs (`nil` asks one thread to exit) and a count of them threads can wait on.
    private final class Queue: Sendable {
        let jobs = Mutex<[Job?]>([])
        let available = DispatchSemaphore(value: 0)
        /// Jobs queued and not yet taken, read without the lock by spinning threads.
        let pending = Atomic<Int>(0)
        /// Threads waiting for a job (polling or asleep).
        let idle = Atomic<Int>(0)

        /// Queues `job`; true when a waiting thread can take it at once (nothing queued before it).
        func push(_ job: Job?) -> Bool {
            jobs.withLock { $0.append(job) }
            let queued = pending.add(1, ordering: .releasing).newValue
            available.signal()
            return queued <= idle.load(ordering: .relaxed)
        }

        /// Blocks until a job is queued; `nil` means exit.
        func pop() -> Job? {
            idle.add(1, ordering: .relaxed)
            defer { idle.subtract(1, ordering: .relaxed) }
            while true {
                awaitJob()
                available.wait()
                let next: Job?? = jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                if let next {
                    pending.subtract(1, ordering: .relaxed)
                    return next
                }
            }
        }

        /// Polls for a job for a short while (yielding the core to any thread that wants it)
        /// before `available.wait()` puts the thread to sleep: the next step of a run is usually
        /// submitted right after the previous one finished, and then starts without a wake-up,
        /// which on a loaded machine costs tens of microseconds.
        private func awaitJob() {
            guard pending.load(ordering: .acquiring) == 0 else { return }
            let deadline = LuaClock.now &+ LuaThreadPool.spinNanos
            while pending.load(ordering: .acquiring) == 0, LuaClock.now < deadline { sched_yield() }
        }
    }

    /// How long an idle thread polls before it sleeps.
    static let spinNanos: UInt64 = 50_000

    private let queue = Queue()
    let threadCount: Int

    init(threads: Int, stackSize: Int, testLedger: LuaTestLedger?) {
        threadCount = max(1, threads)
        for index in 0..<threadCount {
            let thread = Thread { [queue] in
                let worker = LuaWorker(testLedger: testLedger)
                while let job = queue.pop() { job(worker) }
            }
            thread.stackSize = stackSize
            thread.name = "moonflow-lua-\(index)"
            thread.start()
        }
    }

    /// Queues `job`; true when an idle thread takes it at once, false when it waits behind others.
    func submit(_ job: @escaping Job) -> Bool { queue.push(job) }

    /// Lets every thread finish its current job and exit.
    func shutdown() {
        for _ in 0..<threadCount { _ = queue.push(nil) }
    }
}
