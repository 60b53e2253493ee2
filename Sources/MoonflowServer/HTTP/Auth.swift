import Crypto
package import Hummingbird
import MoonflowEngine
package import MoonflowModel
import NIOCore

/// Who is calling, as their bearer token says (docs/api.md).
package struct Principal: Sendable, Hashable {
    package var role: EngineConfig.Role
    /// The user id tasks are assigned to; tokens of operators and admins may have one too.
    package var user: String?
    package var groups: [String]
    /// `--insecure-no-auth` on loopback: every caller is an admin who may complete any task.
    package var isUnauthenticatedLocal: Bool = false

    /// Sees every task; a `user` sees only the tasks assigned to them or their groups.
    var seesAllTasks: Bool { role != .user }

    func isAssignee(of task: TaskRecord) -> Bool {
        if isUnauthenticatedLocal || (task.users.isEmpty && task.groups.isEmpty) { return true }
        return user.map(task.users.contains) == true || groups.contains(where: task.groups.contains)
    }

    /// The identity a task completion is made under; the engine checks it against the assignees.
    func taskUser(for task: TaskRecord) -> TaskUser {
        if isUnauthenticatedLocal { return TaskUser(task.users.first ?? "local", groups: task.groups) }
        return TaskUser(user ?? "", groups: groups)
    }
}

/// What a route needs; `Principal.allows` is the authorisation matrix of `docs/api.md`.
enum Permission: String, Sendable {
    /// Workflows and monitoring figures.
    case read
    /// `runs.read`: runs, their reports and histories, and the event stream — everything a run
    /// holds (inputs, outputs, context, its tasks' forms and submitted data). Users do not have it:
    /// they see a run's tasks only through `/v1/tasks`, where they see only those assigned to them.
    case runs = "runs.read"
    /// Start runs and post events.
    case start
    /// Tasks assigned to the caller (list, show, complete).
    case tasks
    /// Cancel and terminate runs.
    case operate
    /// Reload the project.
    case reload
    /// Scrape `/metrics`.
    case metrics
}

extension Principal {
    func allows(_ permission: Permission) -> Bool {
        switch (role, permission) {
        case (.admin, _): true
        case (.operator, _): true
        case (.user, .read), (.user, .start), (.user, .tasks): true
        case (.user, .runs), (.user, .operate), (.user, .reload), (.user, .metrics): false
        }
    }
}

/// Checks bearer tokens against the SHA-256 digests of `moonflow.yaml` (`auth.tokens`). The
/// presented token is hashed, and the digest compared with every configured one in constant time,
/// so neither the time taken nor the order of tokens tells anything about a token.
package struct Authenticator: Sendable {
    struct Entry: Sendable {
        var digest: [UInt8]
        var principal: Principal
    }

    let entries: [Entry]
    /// `--insecure-no-auth`: no token is needed.
    let disabled: Bool

    /// `localAdminToken`: the credential `moonflow serve` writes under `.moonflow/` for the CLI of
    /// this machine (`LocalServerFile`), an admin's.
    package init(tokens: [EngineConfig.Token], disabled: Bool = false, localAdminToken: String? = nil) {
        var entries = tokens.map { token in
            Entry(
                digest: Self.bytes(hex: token.sha256),
                principal: Principal(role: token.role, user: token.user, groups: token.groups))
        }
        if let localAdminToken {
            entries.append(Entry(digest: Array(SHA256.hash(data: Array(localAdminToken.utf8))), principal: Principal(role: .admin, user: nil, groups: [])))
        }
        self.entries = entries
        self.disabled = disabled
    }

    /// The principal of an `Authorization: Bearer …` header, or `nil` when it is missing or unknown.
    func principal(authorization: String?) -> Principal? {
        if disabled { return Principal(role: .admin, user: nil, groups: [], isUnauthenticatedLocal: true) }
        guard let authorization, authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else { return nil }
        let presented = Array(SHA256.hash(data: Array(authorization.dropFirst(7).utf8)))
        var found: Principal?
        for entry in entries where Self.constantTimeEqual(entry.digest, presented) && found == nil {
            found = entry.principal
        }
        return found
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    private static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), index != hex.endIndex {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }
}

/// The request context of the API: the caller, once authenticated.
package struct APIContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    var principal: Principal?
    /// The connection, so a route can drop a client that stopped reading (the event stream).
    let channel: any Channel

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The caller, when allowed to do `permission`: 401 without a valid token, 403 without the role.
    func require(_ permission: Permission) throws -> Principal {
        guard let principal else { throw APIError(.unauthorized, "Unauthorized", "a valid bearer token is required") }
        guard principal.allows(permission) else {
            throw APIError(.forbidden, "Forbidden", "the role '\(principal.role.rawValue)' does not have the '\(permission.rawValue)' permission (docs/api.md)")
        }
        return principal
    }
}

/// Authenticates every request (docs/api.md): without a valid token only `/health` and the web
/// console (`/` and its files under `/assets/`: static, they hold no data) answer; everything else
/// is 401 here, before any route runs. Routes then `require` the permission they need (403).
struct AuthMiddleware: RouterMiddleware {
    let authenticator: Authenticator
    static let publicPaths: Set<String> = ["/", "/health"]

    static func isPublic(_ path: String) -> Bool { publicPaths.contains(path) || path.hasPrefix("/assets/") }

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        var context = context
        context.principal = authenticator.principal(authorization: request.headers[.authorization])
        if context.principal == nil, !Self.isPublic(request.uri.path) {
            throw APIError(.unauthorized, "Unauthorized", "a valid bearer token is required")
        }
        return try await next(request, context)
    }
}
