import MoonflowModel
import Synchronization

/// The `HTTPCalling` of `moonflow test`: answers from the case's `http:` mocks after their delay on
/// the virtual clock; nothing reaches the network. A request no mock answers fails its attempt
/// and is remembered, so the case fails naming it.
final class MockHTTP: HTTPCalling {
    private struct Route: Hashable {
        var connection: String
        var method: String
        var path: String
    }

    private let routes: [Route: [WorkflowTestCase.HTTPMock]]
    private let clock: ManualClock
    /// Requests answered so far by route, and the unmocked ones in order.
    private let state = Mutex<(answered: [Route: Int], unmocked: [String])>(([:], []))

    init(_ mocks: [WorkflowTestCase.HTTPMock], clock: ManualClock) {
        var routes: [Route: [WorkflowTestCase.HTTPMock]] = [:]
        for mock in mocks { routes[Route(connection: mock.connection, method: mock.method, path: Self.normalized(mock.path)), default: []].append(mock) }
        self.routes = routes
        self.clock = clock
    }

    /// `METHOD connection path` of each request no mock answered, each once.
    var unmocked: [String] { state.withLock { $0.unmocked } }

    func call(_ request: HTTPCall) async throws(ActivityFailure) -> HTTPCallResponse {
        let path = Self.normalized(String(request.path.prefix { $0 != "?" }))
        let route = Route(connection: request.connection, method: request.method, path: path)
        let mock: WorkflowTestCase.HTTPMock? = state.withLock { state in
            guard let mocks = routes[route] else {
                let name = "\(request.method) \(request.connection) \(path)"
                if !state.unmocked.contains(name) { state.unmocked.append(name) }
                return nil
            }
            let index = state.answered[route, default: 0]
            state.answered[route] = index + 1
            return mocks[min(index, mocks.count - 1)]
        }
        guard let mock else {
            throw ActivityFailure(
                .activityError, "unmocked HTTP request: \(request.method) \(request.connection) \(path) (add it to the case's http: mocks)",
                retryable: false)
        }
        if let delay = mock.delay, delay > .zero {
            let wait = min(delay, request.timeout ?? delay)
            do { try await clock.sleep(until: clock.now + wait) } catch { throw ActivityFailure(.cancelled, "the attempt was cancelled") }
            if wait < delay {
                throw ActivityFailure(.timeout, "\(request.method) \(path) (connection '\(request.connection)') timed out after \(wait)")
            }
        }
        return mock.response
    }

    private static func normalized(_ path: String) -> String { path.hasPrefix("/") ? path : "/" + path }
}
