import Hummingbird
import MoonflowModel
import NIOCore
import NIOHTTPTypes
import OrderedCollections

/// The largest request body the API reads (docs/api.md, "Limits"): every body is one JSON object
/// of a start, an event or a task's data. A larger one is a 413 `ContentTooLarge`.
enum RequestBodyLimit {
    static let maxBytes = 1 << 20

    static func tooLarge(contentLength: Int? = nil) -> APIError {
        var details: OrderedDictionary<String, Value> = ["limit": .int(Int64(maxBytes))]
        if let contentLength { details["content_length"] = .int(Int64(contentLength)) }
        return APIError(.contentTooLarge, "ContentTooLarge", "the request body is larger than \(maxBytes) bytes", details: .object(details))
    }

    /// The declared `Content-Length`, when the request has one that parses.
    static func contentLength(of request: Request) -> Int? {
        HTTPFieldValue.contentLength(request.headers[.contentLength])
    }
}

/// Answers a request whose `Content-Length` is over the limit with 413 at once, before anything
/// reads its body; a chunked body over the limit is refused by `JSONBody` when it gets there.
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let length = RequestBodyLimit.contentLength(of: request), length > RequestBodyLimit.maxBytes {
            throw RequestBodyLimit.tooLarge(contentLength: length)
        }
        return try await next(request, context)
    }
}

/// The connection's side of the body limit, under the application:
///
/// - `Expect: 100-continue` is answered with `100 Continue` when the body may be sent (its
///   `Content-Length` is within the limit, or it is chunked), once the answers of earlier
///   pipelined requests are out; a body over the limit gets no `100`, only the 413.
/// - After a 413, and after the answer to a request whose `100` was withheld, the server stops
///   writing (a half-close: the client reads the whole answer) and reads no further request from
///   the connection: the rest of a refused body is not worth reading, and the request and idle
///   timeouts bound how long it may still trickle in.
final class ExpectContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// A request whose answer has not ended, oldest first (HTTP/1 pipelining: several).
    private struct Pending {
        /// It asked for `100 Continue`, which is still to be sent.
        var owesContinue: Bool
        /// The connection stops after its answer.
        var closeAfter: Bool
    }

    private var pending: [Pending] = []
    /// The answer that ends the connection has been written: nothing more is read or answered.
    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        if case .head(let head) = unwrapInboundIn(data) {
            var request = Pending(owesContinue: false, closeAfter: false)
            let fields = head.headerFields
            if let expect = fields[.expect], expect.lowercased() == "100-continue",
                HTTPFieldValue.announcesBody(contentLength: fields[.contentLength], transferEncoding: fields[.transferEncoding])
            {
                let length = HTTPFieldValue.contentLength(fields[.contentLength])
                if let length, length > RequestBodyLimit.maxBytes {
                    request.closeAfter = true
                } else {
                    request.owesContinue = true
                }
            }
            pending.append(request)
            if pending.count == 1 { sendContinueIfOwed(context: context) }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response):
            // The final answer is here: a `100` not sent by now is not needed any more.
            guard response.status.code >= 200, !pending.isEmpty else { return context.write(data, promise: promise) }
            pending[0].owesContinue = false
            if response.status == .contentTooLarge { pending[0].closeAfter = true }
            if pending[0].closeAfter { response.headerFields[.connection] = "close" }
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            let ended = pending.isEmpty ? nil : pending.removeFirst()
            context.write(data, promise: promise)
            if ended?.closeAfter == true {
                closing = true
                pending.removeAll()
                context.flush()
                context.close(mode: .output, promise: nil)
            } else {
                sendContinueIfOwed(context: context)
            }
        }
    }

    private func sendContinueIfOwed(context: ChannelHandlerContext) {
        guard !closing, pending.first?.owesContinue == true else { return }
        pending[0].owesContinue = false
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
    }
}
