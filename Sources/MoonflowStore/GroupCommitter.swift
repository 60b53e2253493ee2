import Dispatch
import GRDB
import MoonflowEngine
import Synchronization

/// Group commit: writes arriving while a commit is in flight are batched into the next
/// transaction, so concurrent runs share the cost of one `fsync`. Each caller resumes only after
/// the transaction holding its write committed (or failed): an acknowledged write is durable.
///
/// The writer runs on its own serial queue, off the cooperative pool, and is never cancelled by a
/// caller's task: a batch is all-or-nothing for the transaction, and each write inside it runs in
/// its own savepoint, so one write refused (a conflict) does not fail its neighbours; a full disk
/// or a lost lock fails the whole batch.
final class GroupCommitter: Sendable {
    /// What a write did: whether it wrote, and the journal positions it gave out.
    struct Written: Sendable {
        var wrote: Bool
        var positions: [Int64] = []
        static let nothing = Written(wrote: false)
        static let done = Written(wrote: true)
    }

    typealias Work = @Sendable (Database) throws -> Written

    private struct Pending {
        var work: Work
        /// Called on the writer once the transaction committed, with the positions the write gave out.
        var committed: CommitHandler?
        var continuation: CheckedContinuation<Bool, any Error>
    }

    private struct Queue {
        var pending: [Pending] = []
        var flushing = false
        /// Transactions committed and writes they held, for the group-commit figure.
        var transactions = 0
        var writes = 0
    }

    private let pool: DatabasePool
    private let queue = Mutex(Queue())
    private let writer = DispatchQueue(label: "moonflow.store.writer")
    private let mapError: @Sendable (any Error) -> any Error

    init(pool: DatabasePool, mapError: @escaping @Sendable (any Error) -> any Error) {
        self.pool = pool
        self.mapError = mapError
    }

    /// Runs `work` inside the next write transaction and returns whether it wrote, once that
    /// committed. `committed` (when it wrote) is called on the writer after the commit and before
    /// any later transaction's handlers: handlers see writes in commit order.
    func write(committed: CommitHandler? = nil, _ work: @escaping Work) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            let startFlush = queue.withLock { queue in
                queue.pending.append(Pending(work: work, committed: committed, continuation: continuation))
                guard !queue.flushing else { return false }
                queue.flushing = true
                return true
            }
            if startFlush { writer.async { self.flush() } }
        }
    }

    /// `(transactions, writes)` committed so far: their ratio is the mean batch size.
    var statistics: (transactions: Int, writes: Int) { queue.withLock { ($0.transactions, $0.writes) } }

    /// On the writer queue: commits batches until nobody waits.
    private func flush() {
        while true {
            let batch = queue.withLock { queue -> [Pending] in
                let batch = queue.pending
                queue.pending = []
                if batch.isEmpty { queue.flushing = false }
                return batch
            }
            if batch.isEmpty { return }
            var results = [Result<Written, any Error>](repeating: .success(.nothing), count: batch.count)
            do {
                try pool.writeWithoutTransaction { db in
                    try db.inTransaction(.immediate) {
                        for (index, pending) in batch.enumerated() {
                            do {
                                try db.inSavepoint {
                                    results[index] = .success(try pending.work(db))
                                    return .commit
                                }
                            } catch {
                                let failure = mapError(error)
                                // A full disk or a lost lock aborts the whole transaction.
                                if case RunStoreError.storageFull? = failure as? RunStoreError { throw failure }
                                if case RunStoreError.storageBusy? = failure as? RunStoreError { throw failure }
                                results[index] = .failure(failure)
                            }
                        }
                        return .commit
                    }
                }
                queue.withLock { queue in
                    queue.transactions += 1
                    queue.writes += batch.count
                }
                for (pending, result) in zip(batch, results) {
                    if let committed = pending.committed, case .success(let written) = result, written.wrote { committed(written.positions) }
                }
            } catch {
                let failure = mapError(error)
                results = results.map { _ in .failure(failure) }
            }
            for (pending, result) in zip(batch, results) { pending.continuation.resume(with: result.map(\.wrote)) }
        }
    }
}
