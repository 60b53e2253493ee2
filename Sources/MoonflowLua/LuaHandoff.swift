import Foundation
import Synchronization

/// A result passed once from a pool thread to the task awaiting it, without a thread hop when the
/// script is short: the task first polls for a few microseconds (yielding its core), and takes a
/// result that arrived meanwhile without suspending, which saves waking a cooperative thread for
/// the resumption; otherwise it suspends on a continuation that the pool thread resumes.
///
/// `@unchecked Sendable`: `result` is written only by the pool thread, before it moves `state`
/// from pending to done with release ordering, and read by the task only after it saw done with
/// acquire ordering; `continuation` is written only by the task, before it moves `state` from
/// pending to waiting (release), and read by the pool thread only after its own move failed on
/// waiting (acquire). Each side moves `state` at most once, by compare-exchange, so exactly one of
/// them delivers the result.
final class LuaHandoff<T: Sendable>: @unchecked Sendable {
    private static var pending: Int { 0 }
    private static var done: Int { 1 }
    private static var waiting: Int { 2 }

    private let state = Atomic<Int>(0)
    private var result: T?
    private var continuation: CheckedContinuation<T, Never>?

    /// Called once, on the pool thread.
    func complete(_ value: T) {
        result = value
        let (exchanged, _) = state.compareExchange(expected: Self.pending, desired: Self.done, ordering: .acquiringAndReleasing)
        if !exchanged { continuation?.resume(returning: value) }
    }

    /// Called once, by the awaiting task: polls for `pollNanos`, then suspends.
    func value(pollNanos: UInt64) async -> T {
        let deadline = LuaClock.now &+ pollNanos
        while state.load(ordering: .acquiring) == Self.pending, LuaClock.now < deadline { sched_yield() }
        if state.load(ordering: .acquiring) == Self.done, let result { return result }
        return await withCheckedContinuation { continuation in
            self.continuation = continuation
            let (exchanged, _) = state.compareExchange(expected: Self.pending, desired: Self.waiting, ordering: .acquiringAndReleasing)
            if !exchanged, let result { continuation.resume(returning: result) }
        }
    }
}
