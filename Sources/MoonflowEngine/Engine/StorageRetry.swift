import Metrics
import MoonflowModel
import Synchronization

/// How a run's driver waits out a store that cannot write (docs/durability.md: a full disk or a locked
/// database fails the operation, loses nothing acknowledged, and the engine keeps serving).
///
/// A transition the store refuses with `StorageFull` or `StorageBusy` wrote nothing, so the driver
/// writes the same transition again after a backoff (`initialDelay`, doubling up to `maximumDelay`)
/// until it is stored or `maximumRetries` are spent. The run keeps its place meanwhile: nothing is
/// re-run and no attempt is counted, and once the disk has room again (or the lock is released)
/// the drive goes on as if nothing happened. Only when the retries are spent does the drive end
/// with the storage error, leaving the run as its last stored transition for `runs resume` or the
/// next start. What a caller waits on is not retried but fails at once, storing nothing: a start
/// (`Engine.start`), and the first transition of a task completion, a cancel or terminate, and a
/// resumed compensation; the drive that follows an acknowledged one is retried.
package struct StorageRetryPolicy: Sendable, Hashable {
    package var initialDelay: Duration
    package var maximumDelay: Duration
    /// Writes after the first that fails; 0 turns retrying off.
    package var maximumRetries: Int

    /// The default waits about 4.5 minutes in all: 0.1 s, 0.2 s, … 3.2 s, then 5 s apart.
    package init(initialDelay: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(5), maximumRetries: Int = 60) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumRetries = maximumRetries
    }

    /// The wait before retry `retry` (1-based).
    func delay(before retry: Int) -> Duration {
        var delay = initialDelay
        for _ in 1..<max(1, retry) where delay < maximumDelay { delay = delay * 2 }
        return min(delay, maximumDelay)
    }
}

/// The engine's storage retry policy (settable, e.g. shorter in tests) and its counter
/// `moonflow_storage_retries_total{kind}` (kind: `full`, `busy`).
package final class StorageRetry: Sendable {
    private let current = Mutex(StorageRetryPolicy())
    private let retries = Mutex(0)
    private let full = Counter(label: "moonflow_storage_retries_total", dimensions: [("kind", "full")])
    private let busy = Counter(label: "moonflow_storage_retries_total", dimensions: [("kind", "busy")])

    init() {}

    package var policy: StorageRetryPolicy {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }

    /// Writes retried after a storage fault since the engine was built.
    package var count: Int { retries.withLock { $0 } }

    /// Counts one write retried after `error`.
    func record(_ error: RunStoreError) {
        retries.withLock { $0 += 1 }
        if case .storageBusy = error { busy.increment() } else { full.increment() }
    }
}

extension RunStoreError {
    /// A fault of the storage under the store (disk full, database locked), not of the write.
    var isStorageFault: Bool {
        switch self {
        case .storageFull, .storageBusy: true
        default: false
        }
    }
}
