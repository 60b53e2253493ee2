import Hummingbird
import Synchronization

/// What one event-stream subscriber has not been sent yet, bounded in bytes.
///
/// The bus hands events over as they happen; the connection takes them as fast as the client
/// reads. A client that reads slower than events come fills this buffer: past `limit` bytes the
/// buffered events are dropped and replaced by one final event that says so, and the stream ends
/// after it. A client that stops reading altogether is disconnected after the write timeout
/// (`writeStalled`). Either way a subscriber holds at most about `limit` bytes.
final class EventStreamBuffer: Sendable {
    fileprivate struct State {
        var chunks: [ByteBuffer] = []
        var head = 0
        var bytes = 0
        var finished = false
        var waiter: CheckedContinuation<ByteBuffer?, Never>?
        /// When the write in progress started; `nil` between writes.
        var writeStarted: ContinuousClock.Instant?
        var lastQueued = ContinuousClock.now
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = max(1, limit) }

    /// Queues a chunk; `false` when the subscriber has fallen `limit` bytes behind: what was
    /// queued is dropped, `final` is queued instead, and the stream ends after it. A chunk larger
    /// than `limit` is still taken when nothing else is waiting, so a big event reaches a reader.
    @discardableResult
    func push(_ chunk: ByteBuffer, orEndWith final: ByteBuffer) -> Bool {
        let (accepted, resume) = state.withLock { state -> (Bool, (CheckedContinuation<ByteBuffer?, Never>, ByteBuffer)?) in
            guard !state.finished else { return (false, nil) }
            state.lastQueued = .now
            if state.bytes > 0, state.bytes + chunk.readableBytes > limit {
                state.chunks = [final]
                state.head = 0
                state.bytes = final.readableBytes
                state.finished = true
                return (false, state.takeWaiter())
            }
            state.chunks.append(chunk)
            state.bytes += chunk.readableBytes
            return (true, state.takeWaiter())
        }
        if let (waiter, chunk) = resume { waiter.resume(returning: chunk) }
        return accepted
    }

    /// Queues a keep-alive comment when nothing was queued for `interval` and nothing is waiting.
    func keepAlive(after interval: Duration, comment: ByteBuffer) {
        let idle = state.withLock { state in
            !state.finished && state.bytes == 0 && ContinuousClock.now - state.lastQueued >= interval
        }
        if idle { push(comment, orEndWith: comment) }
    }

    /// Ends the stream once what is queued (and `final`, when given) is written.
    func finish(with final: ByteBuffer? = nil) {
        let resume = state.withLock { state -> (CheckedContinuation<ByteBuffer?, Never>, ByteBuffer?)? in
            guard !state.finished else { return nil }
            if let final {
                state.chunks.append(final)
                state.bytes += final.readableBytes
            }
            state.finished = true
            guard let waiter = state.waiter else { return nil }
            state.waiter = nil
            return (waiter, state.pop())
        }
        if let (waiter, chunk) = resume { waiter.resume(returning: chunk) }
    }

    /// The next chunk to write, or `nil` once the stream has ended and everything is written.
    func next() async -> ByteBuffer? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ByteBuffer?, Never>) in
                let ready = state.withLock { state -> (ByteBuffer?, Bool) in
                    if let chunk = state.pop() { return (chunk, true) }
                    if state.finished { return (nil, true) }
                    state.waiter = continuation
                    return (nil, false)
                }
                if ready.1 { continuation.resume(returning: ready.0) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<ByteBuffer?, Never>? in
                state.finished = true
                state.chunks = []
                state.head = 0
                state.bytes = 0
                let waiter = state.waiter
                state.waiter = nil
                return waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// Whether the stream ended (finished, or its reader was cancelled).
    var isFinished: Bool { state.withLock { $0.finished } }

    func writing(_ inProgress: Bool) { state.withLock { $0.writeStarted = inProgress ? .now : nil } }

    /// Whether a write has been waiting for the client to read for longer than `timeout`.
    func writeStalled(longerThan timeout: Duration) -> Bool {
        state.withLock { state in state.writeStarted.map { ContinuousClock.now - $0 > timeout } ?? false }
    }

    /// Bytes queued, for tests.
    var queuedBytes: Int { state.withLock { $0.bytes } }
}

extension EventStreamBuffer.State {
    fileprivate mutating func pop() -> ByteBuffer? {
        guard head < chunks.count else { return nil }
        let chunk = chunks[head]
        head += 1
        bytes -= chunk.readableBytes
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64, head * 2 > chunks.count {
            chunks.removeFirst(head)
            head = 0
        }
        return chunk
    }

    /// The reader waiting for a chunk, with the chunk it gets (taken off the queue).
    fileprivate mutating func takeWaiter() -> (CheckedContinuation<ByteBuffer?, Never>, ByteBuffer)? {
        guard let waiter, let chunk = pop() else { return nil }
        self.waiter = nil
        return (waiter, chunk)
    }
}
