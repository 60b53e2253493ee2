import DequeModule
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

/// A small pool of dedicated threads (large stacks, off Swift's cooperative pool) that run Lua —
/// and the tasks that prefer them.
///
/// Each thread is also a `TaskExecutor` (a lane, `lane(_:)`): the engine drives a run in a task
/// that prefers one lane, so the run's steps, its activities' child tasks and their scripts run
/// on that one thread one after another, and a step costs no hand-off between threads (each woke
/// a sleeping thread, which cost more than the rest of a short step). A script called from a pool
/// thread runs there at once (`current`); one called from elsewhere is queued for any thread.
/// A thread with nothing of its own to do takes queued scripts, then steals the tasks waiting on
/// a busy lane, and a thread about to run a script wakes an idle one when its lane holds more
/// work (`offerWork`), so parallel activities still spread over the threads.
final class LuaThreadPool: Sendable {
    typealias Job = @Sendable (LuaWorker) -> Void

    /// A thread of the pool, as its code finds it (`current`): the pool, its lane and its worker.
    final class ThreadContext: @unchecked Sendable {
        let core: Core
        let index: Int
        /// Touched only by its own thread.
        let worker: LuaWorker

        init(core: Core, index: Int, worker: LuaWorker) {
            self.core = core
            self.index = index
            self.worker = worker
        }
    }

    fileprivate enum Work {
        case script(Job)
        case task(UnownedJob)
    }

    /// The queues and who sleeps, shared by the threads and the lanes.
    final class Core: Sendable {
        fileprivate struct State {
            var scripts: Deque<Job> = []
            var lanes: [Deque<UnownedJob>]
            var idle: [Bool]
            var exiting = false
        }

        fileprivate let state: Mutex<State>
        private let wakers: [DispatchSemaphore]

        init(threads: Int) {
            state = Mutex(State(lanes: Array(repeating: [], count: threads), idle: Array(repeating: false, count: threads)))
            wakers = (0..<threads).map { _ in DispatchSemaphore(value: 0) }
        }

        /// The next work of thread `index`, sleeping until there is some; `nil` once the pool
        /// shuts down and nothing is left.
        fileprivate func next(for index: Int) -> Work? {
            while true {
                let next = state.withLock { state -> Work?? in
                    if let job = state.lanes[index].popFirst() { return .task(job) }
                    if let job = state.scripts.popFirst() { return .script(job) }
                    for offset in 1..<state.lanes.count {
                        let other = (index + offset) % state.lanes.count
                        if let job = state.lanes[other].popFirst() { return .task(job) }
                    }
                    if state.exiting { return .some(nil) }
                    state.idle[index] = true
                    return nil
                }
                if let next { return next }
                wakers[index].wait()
            }
        }

        /// Queues a task's job on lane `index`: its thread is woken when it sleeps; when it is busy
        /// and the job comes from another thread, an idle thread is woken to take it. `false`
        /// (nothing queued) once the pool shuts down.
        func enqueue(_ job: UnownedJob, lane index: Int) -> Bool {
            let fromOwnThread = LuaThreadPool.current.map { $0.core === self && $0.index == index } ?? false
            let (queued, wake) = state.withLock { state -> (Bool, Int?) in
                guard !state.exiting else { return (false, nil) }
                state.lanes[index].append(job)
                if state.idle[index] {
                    state.idle[index] = false
                    return (true, index)
                }
                return (true, fromOwnThread ? nil : state.takeIdle())
            }
            if let wake { wakers[wake].signal() }
            return queued
        }

        /// Queues a script for any thread.
        func submit(_ job: @escaping Job) {
            let wake = state.withLock { state -> Int? in
                state.scripts.append(job)
                return state.takeIdle()
            }
            if let wake { wakers[wake].signal() }
        }

        /// Before thread `index` runs a script in place: when its lane holds other work, an idle
        /// thread is woken to take it.
        func offerWork(from index: Int) {
            let wake = state.withLock { state in state.lanes[index].isEmpty ? nil : state.takeIdle() }
            if let wake { wakers[wake].signal() }
        }

        func shutdown() {
            let sleeping = state.withLock { state -> [Int] in
                state.exiting = true
                let sleeping = state.idle.indices.filter { state.idle[$0] }
                for index in sleeping { state.idle[index] = false }
                return sleeping
            }
            for index in sleeping { wakers[index].signal() }
        }

    }

    /// A thread of the pool as the executor of the tasks that prefer it.
    final class Lane: TaskExecutor {
        let core: Core
        let index: Int

        init(core: Core, index: Int) {
            self.core = core
            self.index = index
        }

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            guard !core.enqueue(job, lane: index) else { return }
            // The pool is gone (its runner was released) while a task still preferred it.
            let lane = self
            Thread { job.runSynchronously(on: lane.asUnownedTaskExecutor()) }.start()
        }
    }

    let core: Core
    private let lanes: [Lane]
    private let nextLane = Atomic<Int>(0)
    let threadCount: Int

    init(threads: Int, stackSize: Int, testLedger: LuaTestLedger?, name: String) {
        threadCount = max(1, threads)
        let core = Core(threads: threadCount)
        let lanes = (0..<threadCount).map { Lane(core: core, index: $0) }
        self.core = core
        self.lanes = lanes
        for index in 0..<threadCount {
            let thread = Thread {
                let context = ThreadContext(core: core, index: index, worker: LuaWorker(testLedger: testLedger))
                pthread_setspecific(contextKey, Unmanaged.passUnretained(context).toOpaque())
                defer { pthread_setspecific(contextKey, nil) }
                let executor = lanes[index].asUnownedTaskExecutor()
                while let work = core.next(for: index) {
                    switch work {
                    case .script(let job): job(context.worker)
                    case .task(let job): job.runSynchronously(on: executor)
                    }
                }
                withExtendedLifetime(context) {}
            }
            thread.stackSize = stackSize
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    /// The pool thread this code runs on, if it runs on one.
    static var current: ThreadContext? {
        pthread_getspecific(contextKey).map { Unmanaged<ThreadContext>.fromOpaque($0).takeUnretainedValue() }
    }

    /// The lanes in turn, for the tasks of successive runs.
    func nextLaneExecutor() -> any TaskExecutor {
        lanes[nextLane.wrappingAdd(1, ordering: .relaxed).oldValue % threadCount]
    }

    func submit(_ job: @escaping Job) { core.submit(job) }

    /// Lets every thread finish what is queued and exit.
    func shutdown() { core.shutdown() }
}

extension LuaThreadPool.Core.State {
    /// An idle thread, marked awake (the caller wakes it).
    fileprivate mutating func takeIdle() -> Int? {
        guard let index = idle.firstIndex(of: true) else { return nil }
        idle[index] = false
        return index
    }
}

/// Where each pool thread keeps its `ThreadContext`.
private let contextKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()
