import Foundation
import MoonflowModel
import Testing

/// The auth kinds of a connection (docs/integrations.md), as the service receives them.
@Suite struct AuthTests {
    static let workflow = HTTPActivityTests.workflow("{connection: crm, path: /me}", retry: "{max_attempts: 1}")

    func config(_ stub: ServiceStub, auth: String) -> String {
        """
        secrets: {env_prefix: S_}
        connections:
          crm:
            url: \(stub.base)/api
            auth: \(auth)
            allow_private_network: true
        """
    }

    @Test func bearerBasicAndHeaderAuthAreSentWithTheSecretsInPlace() async throws {
        let stub = try await ServiceStub.start { _ in .json("{}") }
        defer { Task { await stub.stop() } }
        let environment = ["S_TOKEN": "t0k3n", "S_PASSWORD": "p@ss:word", "S_KEY": "k-123"]
        for auth in [
            #"{bearer: "${ secrets.TOKEN }"}"#, #"{basic: {user: ada, password: "${ secrets.PASSWORD }"}}"#,
            #"{header: {name: X-Api-Key, value: "key ${ secrets.KEY }"}}"#,
        ] {
            let project = try HTTPProject(config: config(stub, auth: auth), workflows: ["lead": Self.workflow])
            #expect(try await project.run("lead", on: project.runtime(environment: environment)).status == .completed)
        }
        let requests = stub.requests
        #expect(requests[0].header("Authorization") == "Bearer t0k3n")
        #expect(requests[1].header("Authorization") == "Basic \(Data("ada:p@ss:word".utf8).base64EncodedString())")
        #expect(requests[2].header("X-Api-Key") == "key k-123" && requests[2].header("Authorization") == nil)
    }

    @Test func anOAuth2TokenIsFetchedOnceReusedAndRefreshedAfterExpiry() async throws {
        let issued = Counter()
        let stub = try await ServiceStub.start { request in
            if request.path == "/token" {
                let n = issued.next()
                // expires_in 13 s, less the 10 s skew: the token is used for three seconds.
                return .json(#"{"access_token": "tok-\#(n)", "token_type": "Bearer", "expires_in": 13}"#)
            }
            return .json("{}")
        }
        defer { Task { await stub.stop() } }
        let auth = #"{oauth2: {token_url: "\#(stub.base)/token", client_id: app, client_secret: "${ secrets.S }", scope: "leads:write"}}"#
        let project = try HTTPProject(config: config(stub, auth: auth), workflows: ["lead": Self.workflow])
        let runtime = try project.runtime(environment: ["S_S": "sh-secret"])
        for _ in 0..<3 { #expect(try await project.run("lead", on: runtime).status == .completed) }
        try await Task.sleep(for: .milliseconds(3200))
        #expect(try await project.run("lead", on: runtime).status == .completed)

        // Every token fetched is used. A request that reaches the service less than three seconds after
        // the fetch of the token before it reuses that token: the token was still valid when the engine
        // looked. Under load the first three runs may outlast a token; the run after the wait never
        // reuses one (it starts more than three seconds after the last use, so after any expiry).
        let tokenRequests = stub.requests.filter { $0.path == "/token" }
        let calls = stub.requests.filter { $0.path == "/api/me" }
        let used = calls.map { $0.header("Authorization") ?? "" }
        #expect(tokenRequests.count >= 2 && Set(used).count == tokenRequests.count)
        #expect(used.first == "Bearer tok-0" && used.last == "Bearer tok-\(tokenRequests.count - 1)" && used[2] != used[3])
        for (previous, call) in zip(calls, calls.dropFirst()) {
            let token = previous.header("Authorization") ?? ""
            let index = try #require(Int(token.split(separator: "-").last ?? ""))
            if call.at < tokenRequests[index].at + .seconds(3) { #expect(call.header("Authorization") == token) }
        }
        let grant = try #require(tokenRequests.first)
        #expect(grant.method == "POST" && grant.text == "grant_type=client_credentials&scope=leads:write")
        #expect(grant.header("Authorization") == "Basic \(Data("app:sh-secret".utf8).base64EncodedString())")
        #expect(grant.header("Content-Type") == "application/x-www-form-urlencoded")
    }

    @Test func aRefusedTokenIsFetchedAgainForTheNextRequest() async throws {
        let issued = Counter()
        let refused = Counter()
        let stub = try await ServiceStub.start { request in
            if request.path == "/token" { return .json(#"{"access_token": "tok-\#(issued.next())", "expires_in": 3600}"#) }
            return refused.next() == 0 ? .json(#"{"error": "expired"}"#, status: 401) : .json("{}")
        }
        defer { Task { await stub.stop() } }
        let auth = #"{oauth2: {token_url: "\#(stub.base)/token", client_id: app, client_secret: "${ secrets.S }"}}"#
        let project = try HTTPProject(
            config: config(stub, auth: auth),
            workflows: ["lead": HTTPActivityTests.workflow("{connection: crm, path: /me}", retry: "{max_attempts: 2, initial: 10ms, retry_on: [HttpError]}")])
        #expect(try await project.run("lead", on: project.runtime(environment: ["S_S": "x"])).status == .completed)
        #expect(stub.requests.filter { $0.path == "/api/me" }.map { $0.header("Authorization") } == ["Bearer tok-0", "Bearer tok-1"])
    }

    @Test func aFailedTokenRequestFailsTheAttemptWithItsStatus() async throws {
        let stub = try await ServiceStub.start { _ in .json(#"{"error": "invalid_client"}"#, status: 401) }
        defer { Task { await stub.stop() } }
        let auth = #"{oauth2: {token_url: "\#(stub.base)/token", client_id: app, client_secret: "${ secrets.S }"}}"#
        let project = try HTTPProject(config: config(stub, auth: auth), workflows: ["lead": Self.workflow])
        let report = try await project.run("lead", on: project.runtime(environment: ["S_S": "x"]))
        #expect(report.activity("create")?.error?.type == "HttpError")
        #expect(report.activity("create")?.error?.message == "connection 'crm': the token request answered 401")
        #expect(stub.requests.map(\.path) == ["/token"])
    }
}
