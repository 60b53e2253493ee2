import Hummingbird

/// `HEAD` answers as `GET` would, without the body (docs/api.md): the router answers `HEAD` with
/// the `GET` route (`autoGenerateHeadEndpoints`), and this, the outermost middleware, drops the
/// body of every answer to a `HEAD` — errors included — keeping its status and headers
/// (`Content-Length` too, when the `GET` answer has one).
struct HeadMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        guard request.method == .head else { return response }
        // A closure body of unknown length: an empty buffer would add `Content-Length: 0`.
        return Response(status: response.status, headers: response.headers, body: ResponseBody { writer in try await writer.finish(nil) })
    }
}
