package import Hummingbird
import HTTPTypes
package import Logging
package import MoonflowModel
import NIOCore
import Synchronization

/// `moonflow mock-services FILE`: the `http:` mocks of `moonflow test` served over HTTP, so the
/// examples' connections have something local to call (docs/integrations.md). A request to
/// `/<connection><path>` is answered by the mocks of that connection, method and path, in turn
/// (the last repeating), after their delay; anything else is a 404 naming what was asked.
package final class MockServices: Sendable {
    private struct Route: Hashable {
        var connection: String
        var method: String
        var path: String
    }

    private let routes: [Route: [WorkflowTestCase.HTTPMock]]
    private let answered = Mutex<[Route: Int]>([:])

    package init(_ mocks: [WorkflowTestCase.HTTPMock]) {
        var routes: [Route: [WorkflowTestCase.HTTPMock]] = [:]
        for mock in mocks { routes[Route(connection: mock.connection, method: mock.method, path: mock.path), default: []].append(mock) }
        self.routes = routes
    }

    /// An application serving the mocks on `host:port` (0: a free port, told to `onListening`).
    package func application(
        host: String, port: Int, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            responder: CallbackResponder { (request: Request, _: BasicRequestContext) in await self.answer(request) },
            configuration: .init(address: .hostname(host, port: port), serverName: "moonflow-mock-services"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    private func answer(_ request: Request) async -> Response {
        let segments = request.uri.path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true)
        let connection = segments.first.map(String.init) ?? ""
        let path = "/" + (segments.count > 1 ? String(segments[1]) : "")
        let route = Route(connection: connection, method: request.method.rawValue, path: path)
        let mock: WorkflowTestCase.HTTPMock? = answered.withLock { answered in
            guard let mocks = routes[route] else { return nil }
            let index = answered[route, default: 0]
            answered[route] = index + 1
            return mocks[min(index, mocks.count - 1)]
        }
        guard let mock else {
            let text = #"{"error": "no mock for \#(route.method) \#(connection) \#(path)"}"#
            return Response(status: .notFound, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        if let delay = mock.delay { try? await Task.sleep(for: delay) }
        var headers = HTTPFields()
        for (name, value) in mock.response.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        let body: String
        switch mock.response.body {
        case .json(let json): body = json.jsonString()
        case .text(let text): body = text
        }
        return Response(status: .init(code: mock.response.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
