package import Hummingbird
import MoonflowEngine
package import MoonflowModel
import MoonflowRuntime
import OrderedCollections

/// An error as the API answers it: a status and `{error: {type, message, details}}` (docs/api.md).
/// Engine and loader errors become these only here, at the edge.
package struct APIError: HTTPResponseError, Sendable {
    package var status: HTTPResponse.Status
    /// A stable code clients switch on (`BadRequest`, `NotFound`, `SchemaInvalid`, …).
    package var type: String
    package var message: String
    package var details: Value?
    /// Seconds the client should wait before trying again (the `Retry-After` header).
    package var retryAfter: Int?

    package init(_ status: HTTPResponse.Status, _ type: String, _ message: String, details: Value? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.type = type
        self.message = message
        self.details = details
        self.retryAfter = retryAfter
    }

    /// A body that cannot be used, with the JSON path of the field at fault.
    static func badBody(_ message: String, path: String, _ more: OrderedDictionary<String, Value> = [:]) -> APIError {
        let details = OrderedDictionary(uniqueKeysWithValues: [("path", Value.string(path))]).merging(more) { first, _ in first }
        return APIError(.badRequest, "BadRequest", "\(path): \(message)", details: .object(details))
    }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, "NotFound", message) }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        var error: OrderedDictionary<String, Value> = ["type": .string(type), "message": .string(message)]
        if let details { error["details"] = details }
        var response = JSONResponse.make(["error": .object(error)], status: status)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }
}

extension APIError {
    /// The API's view of the errors engine calls throw.
    init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let failure as ActivityFailure:
            self.init(.badRequest, failure.type.rawValue, failure.message, details: failure.details)
        case let failure as TaskCompletionError:
            let status: HTTPResponse.Status =
                switch failure {
                case .notFound: .notFound
                case .alreadyCompleted, .notOpen: .conflict
                case .notAssignee: .forbidden
                case .invalid: .badRequest
                }
            var details: OrderedDictionary<String, Value> = ["code": .string(failure.code)]
            if case .invalid(_, let errors) = failure { details["errors"] = .array(errors.map(Value.string)) }
            self.init(status, failure.code == "invalid" ? "SchemaInvalid" : failure.code, failure.description, details: .object(details))
        case let full as RunBacklogFull:
            self.init(
                .serviceUnavailable, "BacklogFull", full.description, details: ["limit": .int(Int64(full.limit))],
                retryAfter: RunBacklogFull.retryAfterSeconds)
        case EngineError.unknownRun(let id):
            self = .notFound("no run '\(id)'")
        case let failure as DeadLetterError:
            switch failure {
            case .unknown: self = .notFound(failure.description)
            case .refused: self.init(.conflict, "Refused", failure.description)
            }
        case let refusal as EngineError:
            switch refusal {
            case .refused, .notCompensationFailed: self.init(.conflict, "Refused", refusal.description)
            case .unknownActivity: self.init(.badRequest, "BadRequest", refusal.description)
            default: self.init(.conflict, "Conflict", refusal.description)
            }
        case let failure as RunStoreError:
            switch failure {
            case .storageBusy, .storageFull: self.init(.serviceUnavailable, "StorageUnavailable", failure.description)
            default: self.init(.internalServerError, "InternalError", failure.description)
            }
        case let failure as HTTPError:
            self.init(failure.status, failure.status.reasonPhrase.replacingOccurrences(of: " ", with: ""), failure.body ?? failure.status.reasonPhrase)
        default:
            self.init(.internalServerError, "InternalError", "\(error)")
        }
    }
}

/// Turns every error a handler or the router throws into the JSON error shape, so no client ever
/// sees an empty body or an HTML page; unexpected errors are logged.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError(error)
            if apiError.status == .internalServerError {
                context.logger.error("request failed", metadata: ["error": .string("\(error)"), "path": .string(request.uri.path)])
            }
            return try apiError.response(from: request, context: context)
        }
    }
}

enum JSONResponse {
    static func make(_ value: Value, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.jsonString())))
    }
}
