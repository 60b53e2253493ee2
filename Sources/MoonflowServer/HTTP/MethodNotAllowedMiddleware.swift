import Hummingbird

/// 405 `MethodNotAllowed`, with `Allow`, for a path the API serves under other methods (`TRACE`,
/// `PUT`, `DELETE`, `OPTIONS`, …); a path it does not serve stays a 404. The router calls it only
/// for requests no route matched: added after every route, it wraps only the not-found answer.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    struct Route {
        var path: RouterPath
        var methods: Set<HTTPRequest.Method>
    }

    let routes: [Route]

    /// The routes as registered; `HEAD` is answered wherever `GET` is.
    init(routes registered: [(path: RouterPath, method: HTTPRequest.Method)]) {
        var routes: [Route] = []
        for (path, method) in registered {
            let methods: Set<HTTPRequest.Method> = method == .get ? [.get, .head] : [method]
            if let index = routes.firstIndex(where: { $0.path == path }) {
                routes[index].methods.formUnion(methods)
            } else {
                routes.append(Route(path: path, methods: methods))
            }
        }
        self.routes = routes
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let allowed = allowedMethods(for: request.uri.path), !allowed.contains(request.method) else {
            return try await next(request, context)
        }
        let names = allowed.map(\.rawValue).sorted()
        var response = try APIError(
            .methodNotAllowed, "MethodNotAllowed", "\(request.method.rawValue) is not allowed here (allowed: \(names.joined(separator: ", ")))",
            details: ["allow": .array(names.map { .string($0) })]
        ).response(from: request, context: context)
        response.headers[.allow] = names.joined(separator: ", ")
        return response
    }

    /// The methods of the route that serves `path`, the one with the most literal segments when
    /// several could (`/v1/events/stream` over a `/v1/events/{id}`); `nil` when none does.
    func allowedMethods(for path: String) -> Set<HTTPRequest.Method>? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var best: (literals: Int, methods: Set<HTTPRequest.Method>)?
        for route in routes where route.path.components.count == segments.count {
            guard zip(route.path.components, segments).allSatisfy({ $0 ~= $1 }) else { continue }
            let literals = zip(route.path.components, segments).filter { $0 == $1 }.count
            if literals > (best?.literals ?? -1) { best = (literals, route.methods) }
        }
        return best?.methods
    }
}
