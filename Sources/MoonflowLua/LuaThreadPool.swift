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

        func push(_ job: Job?) {
            jobs.withLock { $0.append(job) }
            available.signal()
        }

        /// Blocks until a job is queued; `nil` means exit.
        func pop() -> Job? {
            while true {
                available.wait()
                let next: Job?? = jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                if let next { return next }
            }
        }
    }

    private let queue = Queue()
    let threadCount: Int

    init(threads: Int, stackSize: Int, testLedger: LuaTestLedger?, name: String) {
        threadCount = max(1, threads)
        for index in 0..<threadCount {
            let thread = Thread { [queue] in
                let worker = LuaWorker(testLedger: testLedger)
                while let job = queue.pop() { job(worker) }
            }
            thread.stackSize = stackSize
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    func submit(_ job: @escaping Job) { queue.push(job) }

    /// Lets every thread finish its current job and exit.
    func shutdown() {
        for _ in 0..<threadCount { queue.push(nil) }
    }
}
