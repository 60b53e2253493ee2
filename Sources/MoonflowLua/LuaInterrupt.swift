internal import CLuaSupport

/// A stop request for one execution: set from any thread (task cancellation), read by the hook
/// and the allocator on the Lua thread.
///
/// `@unchecked Sendable`: the only state is a pointer to a C `_Atomic int` that is allocated in
/// `init`, freed in `deinit` and otherwise only read and written with atomic loads and stores.
final class LuaInterrupt: @unchecked Sendable {
    let flag: OpaquePointer

    init() {
        guard let flag = mf_flag_new() else { fatalError("out of memory allocating an interrupt flag") }
        self.flag = flag
    }

    deinit { mf_flag_free(flag) }

    func cancel() { mf_flag_set(flag, Int32(MF_TRIP_CANCELLED)) }
    var isCancelled: Bool { mf_flag_get(flag) != 0 }
}

/// Deadlines in the monotonic clock the C side reads.
enum LuaClock {
    static var now: UInt64 { mf_now_ns() }

    static func deadline(after duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        let nanos = max(0, seconds) &* 1_000_000_000 &+ max(0, attoseconds / 1_000_000_000)
        return now &+ UInt64(nanos)
    }
}
