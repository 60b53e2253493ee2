package import OrderedCollections

/// One request through a connection, as `call: http`'s `with:` and Lua's `http.request{…}` give it
/// (docs/integrations.md).
package struct HTTPCall: Sendable, Hashable {
    package enum Body: Sendable, Hashable {
        case none
        /// Sent as JSON with `Content-Type: application/json`.
        case json(Value)
        /// Sent as is (`Content-Type: text/plain; charset=utf-8` unless the headers say otherwise).
        case text(String)
    }

    package static let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    /// The keys a request may have.
    package static let keys = ["connection", "method", "path", "query", "headers", "json", "body", "timeout"]

    package var connection: String
    package var method: String
    /// Relative to the connection's url.
    package var path: String
    package var query: OrderedDictionary<String, String>
    package var headers: OrderedDictionary<String, String>
    package var body: Body
    /// At most the connection's `timeout`.
    package var timeout: Duration?
    /// Sent as `Idempotency-Key`.
    package var idempotencyKey: String

    package init(
        connection: String, method: String = "GET", path: String = "", query: OrderedDictionary<String, String> = [:],
        headers: OrderedDictionary<String, String> = [:], body: Body = .none, timeout: Duration? = nil, idempotencyKey: String
    ) {
        self.connection = connection
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.idempotencyKey = idempotencyKey
    }

    /// Reads `{connection, method, path, query, headers, json | body, timeout}`; a bad request fails
    /// with a non-retryable `ActivityError` naming what is wrong.
    package init(_ value: Value, idempotencyKey: String, parseDuration: (String) -> Duration?) throws(ActivityFailure) {
        func bad(_ message: String) -> ActivityFailure {
            ActivityFailure(.activityError, "http: \(message)", retryable: false)
        }
        guard let object = value.objectValue else { throw bad("the request must be an object {connection, method, path, …}") }
        if let unknown = object.keys.first(where: { !Self.keys.contains($0) }) {
            throw bad("unknown key '\(unknown)' (allowed: \(Self.keys.joined(separator: ", ")))")
        }
        guard let connection = object["connection"]?.stringValue, !connection.isEmpty else { throw bad("'connection' names a connection of moonflow.yaml") }
        let method = (object["method"]?.stringValue ?? "GET").uppercased()
        guard Self.methods.contains(method) else { throw bad("'method' must be one of \(Self.methods.joined(separator: ", "))") }
        let path: String
        switch object["path"] {
        case nil, .null?: path = ""
        case .string(let text)?: path = text
        default: throw bad("'path' must be text")
        }
        if path.contains("://") || path.hasPrefix("//") { throw bad("'path' is relative to the connection's url, not '\(path)'") }
        var body = Body.none
        switch (object["json"], object["body"]) {
        case (let json?, nil): body = .json(json)
        case (nil, .string(let text)?): body = .text(text)
        case (nil, _?): throw bad("'body' must be text (use 'json' for a value)")
        case (_?, _?): throw bad("give 'json' or 'body', not both")
        case (nil, nil): break
        }
        var timeout: Duration?
        if let given = object["timeout"] {
            if let seconds = given.numberValue, seconds > 0 {
                timeout = .milliseconds(Int64((seconds * 1000).rounded()))
            } else if let text = given.stringValue, let parsed = parseDuration(text), parsed > .zero {
                timeout = parsed
            } else {
                throw bad("'timeout' must be a duration such as 5s")
            }
        }
        self.init(
            connection: connection, method: method, path: path, query: try Self.texts(object["query"], "query", bad),
            headers: try Self.texts(object["headers"], "headers", bad), body: body, timeout: timeout, idempotencyKey: idempotencyKey)
    }

    /// An object of texts (numbers and booleans written as text).
    private static func texts(
        _ value: Value?, _ field: String, _ bad: (String) -> ActivityFailure
    ) throws(ActivityFailure) -> OrderedDictionary<String, String> {
        guard let value, value != .null else { return [:] }
        guard let object = value.objectValue else { throw bad("'\(field)' must be an object of texts") }
        var out: OrderedDictionary<String, String> = [:]
        for (key, member) in object {
            switch member {
            case .string(let text): out[key] = text
            case .int, .double, .bool: out[key] = member.jsonString()
            default: throw bad("'\(field).\(key)' must be text, a number or a boolean")
            }
        }
        return out
    }
}

/// What a service answered, whatever the status.
package struct HTTPCallResponse: Sendable, Hashable {
    package enum Body: Sendable, Hashable {
        case json(Value)
        case text(String)
    }

    package var status: Int
    /// Lowercased names; repeated fields joined with ", ".
    package var headers: OrderedDictionary<String, String>
    package var body: Body
    /// The server's `Retry-After`, capped by the connection's `retry_after_max`.
    package var retryAfter: Duration?

    package init(status: Int, headers: OrderedDictionary<String, String> = [:], body: Body = .text(""), retryAfter: Duration? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.retryAfter = retryAfter
    }

    /// `{status, headers, json}` or `{status, headers, body}`.
    package var value: Value {
        var object: OrderedDictionary<String, Value> = [
            "status": .int(Int64(status)), "headers": .object(headers.mapValues(Value.string)),
        ]
        switch body {
        case .json(let json): object["json"] = json
        case .text(let text): object["body"] = .string(text)
        }
        return .object(object)
    }

    /// The most characters of a body an `HttpError` keeps in its details.
    package static let errorBodyLimit = 2048

    /// The `HttpError` a status outside 2xx is for `call: http`: 429 and 5xx retried by default,
    /// other statuses only when `retry_on` names `HttpError`; the body kept truncated.
    package func failure(method: String, path: String) -> ActivityFailure? {
        guard !(200..<300).contains(status) else { return nil }
        var text: String
        switch body {
        case .json(let json): text = json.jsonString()
        case .text(let plain): text = plain
        }
        if text.count > Self.errorBodyLimit { text = String(text.prefix(Self.errorBodyLimit)) + "…" }
        return ActivityFailure(
            .httpError, "\(method) \(path.isEmpty ? "/" : path) answered \(status)",
            details: ["status": .int(Int64(status)), "body": .string(text)], retryAfter: retryAfter,
            retriedByDefault: status == 429 || status >= 500)
    }
}

/// Makes requests through moonflow.yaml's connections. It throws only the typed failures of
/// docs/integrations.md (`HttpConnectError`, `Timeout`, `EgressDenied`, `ResponseTooLarge`, an
/// `ActivityError` for an unknown connection); any status is a response. Cancelling the calling
/// task cancels the request.
package protocol HTTPCalling: Sendable {
    func call(_ request: HTTPCall) async throws(ActivityFailure) -> HTTPCallResponse
}
