import Hummingbird

/// Headers every answer carries: browsers must not guess a type other than the one given (a JSON
/// body read as HTML), nor frame the page, nor tell other sites which URL was open. An answer
/// without its own `Content-Security-Policy` (every one but the console page's) allows nothing.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var apiPolicy: String { "default-src 'none'; frame-ancestors 'none'" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        if response.headers[.contentSecurityPolicy] == nil { response.headers[.contentSecurityPolicy] = Self.apiPolicy }
        return response
    }
}
