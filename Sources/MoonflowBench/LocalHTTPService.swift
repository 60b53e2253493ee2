import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The service the `http_call` scenario calls: HTTP/1.1 with keep-alive on a free loopback port,
/// answering every request at once with `{"ok":true}`, counting them.
final class LocalHTTPService: Sendable {
    let port: Int
    private let channel: any Channel
    private let counter: Counter

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    var requests: Int { counter.value.load(ordering: .relaxed) }

    private init(port: Int, channel: any Channel, counter: Counter) {
        self.port = port
        self.channel = channel
        self.counter = counter
    }

    static func start() async throws -> LocalHTTPService {
        let counter = Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Answer(counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return LocalHTTPService(port: channel.localAddress?.port ?? 0, channel: channel, counter: counter)
    }

    func stop() async { try? await channel.close() }

    private final class Answer: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        static let body = ByteBuffer(string: #"{"ok":true}"#)
        let counter: Counter

        init(counter: Counter) { self.counter = counter }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            counter.value.add(1, ordering: .relaxed)
            let headers: HTTPHeaders = ["Content-Type": "application/json", "Content-Length": "\(Self.body.readableBytes)"]
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(Self.body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
