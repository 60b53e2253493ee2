import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 service on a free loopback port, answering each request with what `handler`
/// says (any status, headers, body, after a delay). It records every request and counts the
/// connections it accepted, so a test can tell that nothing reached it.
final class ServiceStub: Sendable {
    struct Request: Sendable {
        var method: String
        var uri: String
        var headers: [(String, String)]
        var body: [UInt8]
        var at: ContinuousClock.Instant

        var path: String { String(uri.prefix { $0 != "?" }) }
        var text: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var delay: Duration?

        static func json(_ text: String, status: Int = 200, headers: [(String, String)] = []) -> Response {
            Response(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
        }

        static func text(_ text: String, status: Int = 200, headers: [(String, String)] = []) -> Response {
            Response(status: status, headers: [("Content-Type", "text/plain")] + headers, body: Array(text.utf8))
        }
    }

    typealias Handler = @Sendable (Request) -> Response

    let port: Int
    private let channel: any Channel
    private let log = Mutex<(requests: [Request], connections: Int)>(([], 0))

    var requests: [Request] { log.withLock { $0.requests } }
    var connections: Int { log.withLock { $0.connections } }
    let host: String
    var base: String { "http://\(host):\(port)" }

    private init(host: String, port: Int, channel: any Channel) {
        self.host = host
        self.port = port
        self.channel = channel
    }

    /// The stubs' own event loop: the suite's servers keep the NIO singleton's loops busy.
    private static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Listens on `host` (another loopback address than 127.0.0.1 is another host to egress) on a
    /// port the system chooses.
    static func start(host: String = "127.0.0.1", _ handler: @escaping Handler) async throws -> ServiceStub {
        let box = Mutex<ServiceStub?>(nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let stub = box.withLock { $0 }
                stub?.log.withLock { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        StubHandler { request in
                            stub?.log.withLock { $0.requests.append(request) }
                            return handler(request)
                        })
                }
            }
            .bind(host: host, port: 0).get()
        let stub = ServiceStub(host: host, port: channel.localAddress?.port ?? 0, channel: channel)
        box.withLock { $0 = stub }
        return stub
    }

    func stop() async {
        try? await channel.close()
    }
}

/// Collects one request, then writes the stub's answer (after its delay).
private final class StubHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let answer: @Sendable (ServiceStub.Request) -> ServiceStub.Response
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(_ answer: @escaping @Sendable (ServiceStub.Request) -> ServiceStub.Response) { self.answer = answer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(let chunk):
            body += chunk.readableBytesView
        case .end:
            guard let head else { return }
            let request = ServiceStub.Request(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: body,
                at: .now)
            let response = answer(request)
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            let keepAlive = head.isKeepAlive
            if let delay = response.delay {
                loop.scheduleTask(in: TimeAmount(delay)) {
                    let (handler, context) = bound.value
                    handler.write(response, keepAlive: keepAlive, context: context)
                }
            } else {
                write(response, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func write(_ response: ServiceStub.Response, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.count)")
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: response.status), headers: headers))), promise: nil)
        if !response.body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil) }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
