import AsyncHTTPClient
import Foundation
package import MoonflowModel
import NIOCore
import NIOHTTP1
package import OrderedCollections

/// The `HTTPCalling` of moonflow.yaml's connections (docs/integrations.md): builds each request
/// from its connection (url, headers, auth, `Idempotency-Key`), checks egress before every hop
/// (redirects followed here, at most `maxRedirects`), bounds the whole request by the timeout
/// and the body by `max_response_size`, and answers every status.
package final class HTTPConnector: HTTPCalling {
    /// Redirects followed before a 3xx is answered as it is.
    static let maxRedirects = 5

    private let connections: [String: ResolvedConnection]
    private let tokens = OAuthTokens()
    private let pool: ClientPool
    private let egress = Egress()
    /// Every secret, replaced in answers and failures before they leave the connector.
    private let redactor: SecretRedactor

    /// The connections with their secrets in place (`SecretsLoader` checked that all are there).
    package init(connections: OrderedDictionary<String, Connection>, secrets: [String: String]) throws(MissingSecret) {
        var resolved: [String: ResolvedConnection] = [:]
        for (name, connection) in connections { resolved[name] = try ResolvedConnection(connection, secrets: secrets) }
        self.connections = resolved
        self.pool = .shared
        self.redactor = SecretRedactor(secrets: secrets, derived: resolved.values.flatMap(\.derivedSecrets))
    }

    package func call(_ request: HTTPCall) async throws(ActivityFailure) -> HTTPCallResponse {
        guard let connection = connections[request.connection] else {
            let known = connections.keys.sorted()
            throw ActivityFailure(
                .activityError,
                "unknown connection '\(request.connection)' (moonflow.yaml defines \(known.isEmpty ? "none" : known.joined(separator: ", ")))",
                retryable: false)
        }
        let timeout = min(request.timeout ?? connection.connection.timeout, connection.connection.timeout)
        // The whole request (every hop and the body) ends by this deadline, which a timer on the
        // client's event loop enforces by failing the request there: neither the timer nor the
        // request waits on the caller's executor (a Lua lane running scripts), and no task is
        // spawned for either.
        let deadline = RequestDeadline(at: .now() + TimeAmount(timeout), timeout: timeout, request: request, connection: connection.name)
        do {
            return try await perform(request, on: connection, deadline: deadline)
        } catch {
            throw redactor.redact(error)
        }
    }

    private func perform(
        _ request: HTTPCall, on connection: ResolvedConnection, deadline: RequestDeadline
    ) async throws(ActivityFailure) -> HTTPCallResponse {
        guard var url = connection.url(path: request.path, query: request.query) else {
            throw ActivityFailure(.activityError, "http: '\(request.path)' does not make a URL with \(connection.connection.url)", retryable: false)
        }
        var method = request.method
        var body = request.body
        var hop = 0
        while true {
            let sameHost = url.host?.lowercased() == connection.baseHost
            let authorization = sameHost ? try await authHeader(connection, deadline: deadline) : nil
            let response = try await send(
                url: url, method: method, body: body, headers: headers(request, connection, auth: authorization), connection: connection,
                deadline: deadline)
            if let (_, location) = redirect(response), hop < Self.maxRedirects,
                let next = URL(string: location, relativeTo: url)?.absoluteURL
            {
                hop += 1
                url = next
                // 303, and 301/302 after a POST, go on with a GET without the body (what browsers do).
                if response.status == .seeOther || (method == "POST" && [301, 302].contains(response.status.code)) {
                    method = "GET"
                    body = .none
                }
                continue
            }
            var redactor = redactor
            if case .oauth2 = connection.auth, let authorization {
                let token = String(authorization.value.dropFirst("Bearer ".count))
                if response.status == .unauthorized { await tokens.invalidate(connection.name, token: token) }
                redactor = redactor.adding(token, name: "\(connection.name).oauth2_token")
            }
            return redactor.redact(read(response, connection: connection))
        }
    }

    /// The auth header of a request to the connection's own host.
    private func authHeader(
        _ connection: ResolvedConnection, deadline: RequestDeadline
    ) async throws(ActivityFailure) -> (name: String, value: String)? {
        switch connection.auth {
        case .none: return nil
        case .header(let name, let value): return (name, value)
        case .oauth2(let client):
            let token = try await tokens.token(for: client) { [self] client throws(ActivityFailure) in
                try await self.fetchToken(client, connection: connection, deadline: deadline)
            }
            return ("Authorization", "Bearer \(token)")
        }
    }

    private func headers(_ request: HTTPCall, _ connection: ResolvedConnection, auth: (name: String, value: String)?) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in connection.headers { headers.replaceOrAdd(name: name, value: value) }
        for (name, value) in request.headers { headers.replaceOrAdd(name: name, value: value) }
        if let auth { headers.replaceOrAdd(name: auth.name, value: auth.value) }
        headers.replaceOrAdd(name: "Idempotency-Key", value: request.idempotencyKey)
        if !headers.contains(name: "Accept-Encoding") { headers.add(name: "Accept-Encoding", value: "gzip, deflate") }
        if !headers.contains(name: "User-Agent") { headers.add(name: "User-Agent", value: "moonflow") }
        return headers
    }

    /// One hop: egress checked, then the request to the checked address, its body read whole
    /// within `max_response_size` (after decompression), all by the deadline.
    private func send(
        url: URL, method: String, body: HTTPCall.Body, headers: HTTPHeaders, connection: ResolvedConnection, deadline: RequestDeadline
    ) async throws(ActivityFailure) -> HTTPClient.Response {
        let target = try await egress.check(url, connection: connection)
        let client = pool.client(for: ClientPool.Key(connectTimeout: connection.connection.connectTimeout, target: target))
        var headers = headers
        let payload: HTTPClient.Body?
        switch body {
        case .none: payload = nil
        case .json(let value):
            if !headers.contains(name: "Content-Type") { headers.add(name: "Content-Type", value: "application/json") }
            payload = .byteBuffer(ByteBuffer(string: value.jsonString()))
        case .text(let text):
            if !headers.contains(name: "Content-Type") { headers.add(name: "Content-Type", value: "text/plain; charset=utf-8") }
            payload = .byteBuffer(ByteBuffer(string: text))
        }
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url, method: HTTPMethod(rawValue: method), headers: headers, body: payload)
        } catch {
            throw Self.failure(error, url: url, connection: connection)
        }
        guard NIODeadline.now() < deadline.at else { throw deadline.failure }
        let limit = min(connection.connection.maxResponseSize, Self.largestBody)
        do {
            return try await EventLoopRequest.execute(request, on: client, deadline: deadline.at, maxBodySize: limit)
        } catch {
            if error as? HTTPClientError == .deadlineExceeded || NIODeadline.now() >= deadline.at { throw deadline.failure }
            if error is ResponseAccumulator.ResponseTooBigError {
                throw ActivityFailure(
                    .responseTooLarge, "the response of connection '\(connection.name)' is over max_response_size (\(limit) bytes)",
                    retryable: false)
            }
            throw Self.failure(error, url: url, connection: connection)
        }
    }

    /// The most a `ByteBuffer` (the body as read) holds.
    private static let largestBody = Int(UInt32.max)

    private func redirect(_ response: HTTPClient.Response) -> (Int, String)? {
        guard [301, 302, 303, 307, 308].contains(Int(response.status.code)), let location = response.headers.first(name: "Location") else {
            return nil
        }
        return (Int(response.status.code), location)
    }

    /// The answer: headers joined by name, the body as JSON when the content type says so.
    private func read(_ response: HTTPClient.Response, connection: ResolvedConnection) -> HTTPCallResponse {
        var headers: OrderedDictionary<String, String> = [:]
        for field in response.headers {
            let name = field.name.lowercased()
            headers[name] = headers[name].map { "\($0), \(field.value)" } ?? field.value
        }
        let bytes = response.body.map { Array($0.readableBytesView) } ?? []
        var body = HTTPCallResponse.Body.text(String(decoding: bytes, as: UTF8.self))
        if !bytes.isEmpty, let type = headers["content-type"]?.lowercased(), type.contains("json"), let json = try? Value(json: bytes) {
            body = .json(json)
        }
        let retryAfter = headers["retry-after"].flatMap(RetryAfter.parse).map { min($0, connection.connection.retryAfterMax) }
        return HTTPCallResponse(status: Int(response.status.code), headers: headers, body: body, retryAfter: retryAfter)
    }

    /// A client-credentials grant at the token url (client id and secret as HTTP Basic, RFC 6749 §2.3.1).
    private func fetchToken(
        _ client: OAuthClient, connection: ResolvedConnection, deadline: RequestDeadline
    ) async throws(ActivityFailure) -> (token: String, expiresIn: Duration?) {
        guard let url = URL(string: client.tokenURL) else {
            throw ActivityFailure(.activityError, "connection '\(connection.name)': bad token_url", retryable: false)
        }
        var form = URLComponents()
        form.queryItems = [URLQueryItem(name: "grant_type", value: "client_credentials")] + (client.scope.map { [URLQueryItem(name: "scope", value: $0)] } ?? [])
        var headers = HTTPHeaders()
        let basic = Data("\(Self.formEncoded(client.clientID)):\(Self.formEncoded(client.clientSecret))".utf8).base64EncodedString()
        headers.add(name: "Authorization", value: "Basic \(basic)")
        headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        headers.add(name: "Accept", value: "application/json")
        let response = read(
            try await send(
                url: url, method: "POST", body: .text(form.percentEncodedQuery ?? ""), headers: headers, connection: connection, deadline: deadline),
            connection: connection)
        if let failure = response.failure(method: "POST", path: "token_url") {
            throw ActivityFailure(
                failure.type, "connection '\(connection.name)': the token request answered \(response.status)", details: ["status": .int(Int64(response.status))],
                retryAfter: failure.retryAfter, retriedByDefault: failure.retriedByDefault)
        }
        guard case .json(let json) = response.body, let token = json["access_token"]?.stringValue, !token.isEmpty else {
            throw ActivityFailure(.httpError, "connection '\(connection.name)': the token response has no access_token")
        }
        return (token, json["expires_in"]?.numberValue.map { .milliseconds(Int64($0 * 1000)) })
    }

    private static func formEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// A transport error as one of docs/integrations.md's types.
    static func failure(_ error: any Error, url: URL?, connection: ResolvedConnection) -> ActivityFailure {
        if error is CancellationError || (error as? HTTPClientError) == .cancelled { return ActivityFailure(.cancelled, "request cancelled") }
        let place = url.map { " (\($0.host ?? ""))" } ?? ""
        if let client = error as? HTTPClientError, [.connectTimeout, .tlsHandshakeTimeout].contains(client) {
            return ActivityFailure(.timeout, "connection '\(connection.name)': connect timed out after \(connection.connection.connectTimeout)\(place)")
        }
        return ActivityFailure(.httpConnectError, "connection '\(connection.name)'\(place): \(error)")
    }
}

/// `Retry-After`: a number of seconds or an HTTP date.
enum RetryAfter {
    static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int64(trimmed) { return seconds >= 0 ? .seconds(seconds) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .milliseconds(Int64(max(date.timeIntervalSinceNow, 0) * 1000))
    }
}

/// When a request must have ended (its connection's `timeout`, or the request's own if shorter).
struct RequestDeadline: Sendable {
    let at: NIODeadline
    let timeout: Duration
    let request: HTTPCall
    let connection: String

    var failure: ActivityFailure {
        let path = request.path.isEmpty ? "/" : request.path
        return ActivityFailure(.timeout, "\(request.method) \(path) (connection '\(connection)') timed out after \(timeout)")
    }
}
