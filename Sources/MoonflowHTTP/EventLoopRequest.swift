import AsyncHTTPClient
import NIOCore
import Synchronization

/// One request made from the event loop of its client (`ClientPool` gives each client one), body
/// read whole: the request, its connection, its deadline timer and the delegate all live on that
/// loop, so the caller's thread hands the request over once (instead of once for the request,
/// once for the timer, once for cancelling it and once for waiting on it), and the answer comes
/// back as one resumption. (A client's only loop is every request's loop without pinning one:
/// pinned requests past the pool's connection limit would open connections beyond it.)
enum EventLoopRequest {
    static func execute(
        _ request: HTTPClient.Request, on client: HTTPClient, deadline: NIODeadline, maxBodySize: Int
    ) async throws -> HTTPClient.Response {
        let loop = client.eventLoopGroup.next()
        let handle = Handle()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPClient.Response, any Error>) in
                loop.execute {
                    let task = client.execute(
                        request: request, delegate: ResponseAccumulator(request: request, maxBodySize: maxBodySize),
                        eventLoop: .indifferent, deadline: deadline)
                    handle.started(task)
                    task.futureResult.whenComplete { continuation.resume(with: $0) }
                }
            }
        } onCancel: {
            handle.cancel()
        }
    }

    /// The request's task, for a cancellation that may come before it exists.
    private final class Handle: Sendable {
        private let state = Mutex<(task: HTTPClient.Task<HTTPClient.Response>?, cancelled: Bool)>((nil, false))

        func started(_ task: HTTPClient.Task<HTTPClient.Response>) {
            if state.withLock({ $0.task = task; return $0.cancelled }) { task.cancel() }
        }

        func cancel() {
            state.withLock { $0.cancelled = true; return $0.task }?.cancel()
        }
    }
}
