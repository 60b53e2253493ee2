import Logging
import MoonflowEngine
import MoonflowModel
import PostgresNIO
import Synchronization

/// Group commit on PostgreSQL: transitions waiting while a commit is in flight go together in the
/// next one — one statement, `SELECT moonflow_write(batch)`, which is its own transaction — so
/// concurrent runs share one round trip and one WAL flush. Each caller resumes only after the
/// transaction holding its write committed: an acknowledged write is durable. A write refused
/// inside a batch (a stale journal length) writes nothing and does not fail its neighbours; a batch
/// that fails otherwise is written again one write at a time, so only the write at fault fails,
/// unless the database itself failed (unreachable, full), which fails the whole batch.
///
/// One flush runs at a time, in a task of its own that no caller's cancellation reaches.
final class PostgresCommitter: Sendable {
    /// What the database did with one write.
    enum Outcome: Sendable, Equatable {
        /// Written; its journal entries got positions `first ..< first + count`, and the run's epoch is `epoch`.
        case written(first: Int64, count: Int, epoch: Int64)
        /// A create whose run is stored already: nothing was written.
        case exists
        /// The run's journal has `length` entries, not the expected number: nothing was written.
        case conflict(length: Int)
        /// A live process (`owner`) drives the run: nothing was written.
        case owned(by: String)
        /// The claim the write held is another process's now: nothing was written.
        case lost
        /// Another session holds the run's row (a transaction left open): refused at once, nothing was written.
        case busy
        case unknownRun
    }

    private struct Pending {
        /// The write as `moonflow_write` reads it (a JSON object).
        var write: Value
        var committed: CommitHandler?
        var continuation: CheckedContinuation<Outcome, any Error>
    }

    private struct Queue {
        var pending: [Pending] = []
        var flushing = false
        var transactions = 0
        var writes = 0
    }

    /// The most writes in one statement.
    static let batchLimit = 512

    private let client: PostgresClient
    private let logger: Logger
    /// The process whose writes these are (`processes.id`).
    private let processID: String
    private let queue = Mutex(Queue())

    init(client: PostgresClient, processID: String, logger: Logger) {
        self.client = client
        self.processID = processID
        self.logger = logger
    }

    var statistics: (transactions: Int, writes: Int) { queue.withLock { ($0.transactions, $0.writes) } }

    /// Queues `write` for the next batch and returns what became of it once that committed (or
    /// failed). `committed` runs, when it was written, after the commit and before any later
    /// batch's handlers.
    func write(_ write: Value, committed: CommitHandler?) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            let startFlush = queue.withLock { queue in
                queue.pending.append(Pending(write: write, committed: committed, continuation: continuation))
                guard !queue.flushing else { return false }
                queue.flushing = true
                return true
            }
            if startFlush { Task.detached { await self.flush() } }
        }
    }

    /// Commits batches until nobody waits.
    private func flush() async {
        while true {
            let batch = queue.withLock { queue -> [Pending] in
                let batch = Array(queue.pending.prefix(Self.batchLimit))
                queue.pending.removeFirst(batch.count)
                if batch.isEmpty { queue.flushing = false }
                return batch
            }
            if batch.isEmpty { return }
            let results: [Result<Outcome, any Error>]
            do {
                let outcomes = try await commit(batch.map(\.write))
                results = outcomes.map { .success($0) }
                queue.withLock { queue in
                    queue.transactions += 1
                    queue.writes += batch.count
                }
            } catch let failure where batch.count > 1 && !PostgresErrors.isStorageFault(failure) {
                results = await commitOneByOne(batch.map(\.write))
            } catch {
                results = batch.map { _ in .failure(error) }
            }
            for (pending, result) in zip(batch, results) {
                if let committed = pending.committed, case .success(.written(let first, let count, _)) = result {
                    committed((0..<Int64(count)).map { first + $0 })
                }
            }
            for (pending, result) in zip(batch, results) { pending.continuation.resume(with: result) }
        }
    }

    private func commitOneByOne(_ writes: [Value]) async -> [Result<Outcome, any Error>] {
        var results: [Result<Outcome, any Error>] = []
        for write in writes {
            do {
                let outcome = try await commit([write])
                results.append(.success(outcome[0]))
                queue.withLock { queue in
                    queue.transactions += 1
                    queue.writes += 1
                }
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    /// One statement, one transaction: the outcomes of `writes`, in order.
    private func commit(_ writes: [Value]) async throws -> [Outcome] {
        let text = Value.array(writes).jsonString()
        var answer: String?
        do {
            for try await row in try await client.query("SELECT moonflow_write(\(text)::jsonb, \(processID))::text", logger: logger).decode(String.self) {
                answer = row
            }
        } catch {
            throw PostgresErrors.storageError(error)
        }
        guard let answer, let outcomes = try? Value(json: answer).arrayValue, outcomes.count == writes.count else {
            throw RunStoreError.storageBusy("moonflow_write answered \(answer ?? "nothing") for \(writes.count) writes")
        }
        return outcomes.map { outcome in
            if let first = outcome["first"]?.intValue, let count = outcome["count"]?.intValue, let epoch = outcome["epoch"]?.intValue {
                return .written(first: first, count: Int(count), epoch: epoch)
            }
            if let length = outcome["conflict"]?.intValue { return .conflict(length: Int(length)) }
            if let owner = outcome["owned"]?.stringValue { return .owned(by: owner) }
            if outcome["lost"] != nil { return .lost }
            if outcome["busy"] != nil { return .busy }
            if outcome["exists"] != nil { return .exists }
            return .unknownRun
        }
    }
}
