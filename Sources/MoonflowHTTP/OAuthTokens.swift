import MoonflowModel

/// An OAuth 2 client-credentials client of one connection (`auth: {oauth2: …}`).
struct OAuthClient: Sendable {
    var connection: String
    var tokenURL: String
    var clientID: String
    var clientSecret: String
    var scope: String?
}

/// Access tokens by connection: fetched once, reused until they expire, fetched again after (one
/// fetch at a time per connection, however many requests wait for it).
actor OAuthTokens {
    /// A token is renewed this long before the `expires_in` the server gave.
    static let skew: Duration = .seconds(10)
    /// How long a token without `expires_in` is used.
    static let defaultLifetime: Duration = .seconds(300)

    typealias Fetch = @Sendable (OAuthClient) async throws(ActivityFailure) -> (token: String, expiresIn: Duration?)
    private typealias Outcome = Result<(token: String, expires: ContinuousClock.Instant), ActivityFailure>

    private var cached: [String: (token: String, expires: ContinuousClock.Instant)] = [:]
    private var inFlight: [String: Task<Outcome, Never>] = [:]

    func token(for client: OAuthClient, fetch: @escaping Fetch) async throws(ActivityFailure) -> String {
        let now = ContinuousClock.now
        if let entry = cached[client.connection], entry.expires > now { return entry.token }
        let task: Task<Outcome, Never>
        if let running = inFlight[client.connection] {
            task = running
        } else {
            task = Task {
                do throws(ActivityFailure) {
                    let (token, expiresIn) = try await fetch(client)
                    let lifetime = expiresIn.map { max($0 - Self.skew, .zero) } ?? Self.defaultLifetime
                    return .success((token, ContinuousClock.now + lifetime))
                } catch {
                    return .failure(error)
                }
            }
            inFlight[client.connection] = task
        }
        let outcome = await task.value
        inFlight[client.connection] = nil
        let entry = try outcome.get()
        cached[client.connection] = entry
        return entry.token
    }

    /// The service refused `token` (401): the next request fetches a new one.
    func invalidate(_ connection: String, token: String) {
        if cached[connection]?.token == token { cached[connection] = nil }
    }
}
