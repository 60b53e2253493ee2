import Foundation
import MoonflowModel
import MoonflowYAML
import OrderedCollections

/// `moonflow.yaml`'s `connections` (docs/integrations.md): every key checked, every value in range,
/// `${ secrets.NAME }` the only template allowed.
enum ConnectionReader {
    static let keys = [
        "url", "auth", "headers", "timeout", "connect_timeout", "max_response_size", "allowed_hosts", "allow_private_network",
        "retry_after_max",
    ]
    /// Names a notification channel may take besides a connection's.
    static let reservedNames = ["log"]

    static func read(_ node: YAMLNode, context: FileContext) -> OrderedDictionary<String, Connection> {
        guard let pairs = node.mapping else {
            context.error(.typeMismatch, "'connections' must be a mapping of names to connections, not \(node.kindDescription)", at: node)
            return [:]
        }
        var connections: OrderedDictionary<String, Connection> = [:]
        for pair in pairs {
            guard let name = context.identifier(pair.key, "connection name") else { continue }
            if reservedNames.contains(name) {
                context.error(.invalidValue, "'\(name)' is reserved (the log notification channel)", at: pair.key, hint: "name the connection otherwise")
                continue
            }
            if let connection = readConnection(pair.value, name: name, context: context) { connections[name] = connection }
        }
        return connections
    }

    private static func readConnection(_ node: YAMLNode, name: String, context: FileContext) -> Connection? {
        guard let map = MappingReader(node, context, what: "connection '\(name)'", allowed: keys) else { return nil }
        guard let urlNode = map["url"] else {
            context.error(.missingKey, "connection '\(name)' needs a 'url'", at: node, hint: "for example: url: https://crm.example.com/api")
            return nil
        }
        guard let url = baseURL(urlNode, "url", context: context) else { return nil }
        var connection = Connection(name: name, url: url.absoluteString, location: node.location)
        if let n = map["auth"] { connection.auth = readAuth(n, context: context) }
        if let n = map["headers"] { connection.headers = headers(n, "headers", context: context) }
        if let n = map["timeout"], let d = bounded(n, "timeout", context: context) { connection.timeout = d }
        if let n = map["connect_timeout"], let d = bounded(n, "connect_timeout", context: context) { connection.connectTimeout = d }
        if let n = map["retry_after_max"], let d = bounded(n, "retry_after_max", context: context) { connection.retryAfterMax = d }
        if let n = map["max_response_size"], let s = context.size(n, "max_response_size") { connection.maxResponseSize = s }
        if let n = map["allow_private_network"] { connection.allowPrivateNetwork = context.bool(n, "allow_private_network") ?? false }
        if let n = map["allowed_hosts"] {
            connection.allowedHosts = context.stringList(n, "allowed_hosts").compactMap { host, at in
                let lowered = host.lowercased()
                guard isHostName(lowered) else {
                    context.error(.invalidValue, "'allowed_hosts': '\(host)' is not a host name", at: at, hint: "write the host alone: crm.example.com")
                    return nil
                }
                return lowered
            }
        }
        return connection
    }

    private static func readAuth(_ node: YAMLNode, context: FileContext) -> ConnectionAuth? {
        let kinds = ["bearer", "basic", "header", "oauth2"]
        guard let map = MappingReader(node, context, what: "'auth'", allowed: kinds) else { return nil }
        guard map.keys.count == 1, let kind = map.keys.first, let value = map[kind] else {
            context.error(
                map.keys.isEmpty ? .missingKey : .conflictingKeys, "'auth' needs exactly one of \(kinds.joined(separator: ", "))", at: node)
            return nil
        }
        switch kind {
        case "bearer":
            return secretText(value, "auth.bearer", context: context).map(ConnectionAuth.bearer)
        case "basic":
            guard let m = required(value, "auth.basic", ["user", "password"], context: context),
                let user = secretText(m["user"]!, "auth.basic.user", context: context),
                let password = secretText(m["password"]!, "auth.basic.password", context: context)
            else { return nil }
            return .basic(user: user, password: password)
        case "header":
            guard let m = required(value, "auth.header", ["name", "value"], context: context),
                let name = headerName(m["name"]!, context: context),
                let text = secretText(m["value"]!, "auth.header.value", context: context)
            else { return nil }
            return .header(name: name, value: text)
        default:
            guard let m = required(value, "auth.oauth2", ["token_url", "client_id", "client_secret"], optional: ["scope"], context: context),
                let tokenURL = baseURL(m["token_url"]!, "auth.oauth2.token_url", context: context),
                let id = secretText(m["client_id"]!, "auth.oauth2.client_id", context: context),
                let secret = secretText(m["client_secret"]!, "auth.oauth2.client_secret", context: context)
            else { return nil }
            let scope = m["scope"].flatMap { context.string($0, "scope") }
            return .oauth2(tokenURL: tokenURL.absoluteString, clientID: id, clientSecret: secret, scope: scope)
        }
    }

    /// A mapping with every key of `keys` present.
    private static func required(
        _ node: YAMLNode, _ what: String, _ keys: [String], optional: [String] = [], context: FileContext
    ) -> MappingReader? {
        guard let map = MappingReader(node, context, what: "'\(what)'", allowed: keys + optional) else { return nil }
        let missing = keys.filter { !map.has($0) }
        guard missing.isEmpty else {
            context.error(.missingKey, "'\(what)' needs \(missing.map { "'\($0)'" }.joined(separator: " and "))", at: node)
            return nil
        }
        return map
    }

    private static func mapping(_ node: YAMLNode, _ field: String, context: FileContext) -> [YAMLPair]? {
        guard let pairs = node.mapping else {
            context.error(.typeMismatch, "'\(field)' must be a mapping, not \(node.kindDescription)", at: node)
            return nil
        }
        return pairs
    }

    /// A duration above zero and at most `Connection.maxTimeout`.
    private static func bounded(_ node: YAMLNode, _ field: String, context: FileContext) -> Duration? {
        guard let duration = context.duration(node, field) else { return nil }
        guard duration <= Connection.maxTimeout else {
            context.error(.outOfRange, "'\(field)' must be at most 300s, not \(node.scalar?.text ?? "")", at: node)
            return nil
        }
        return duration
    }

    /// Header names and their texts, `${ secrets.NAME }` allowed in the texts.
    static func headers(_ node: YAMLNode, _ field: String, context: FileContext) -> OrderedDictionary<String, SecretText> {
        var headers: OrderedDictionary<String, SecretText> = [:]
        guard let pairs = mapping(node, field, context: context) else { return headers }
        for pair in pairs {
            guard let header = headerName(pair.key, context: context), let value = secretText(pair.value, "\(field).\(header)", context: context)
            else { continue }
            headers[header] = value
        }
        return headers
    }

    /// An absolute `http` or `https` URL with a host, no credentials and no fragment.
    static func baseURL(_ node: YAMLNode, _ field: String, context: FileContext) -> URL? {
        guard let text = context.string(node, field) else { return nil }
        if text.contains("${") {
            context.error(.invalidValue, "'\(field)' cannot hold a template", at: node, hint: "secrets belong in 'auth' or 'headers'")
            return nil
        }
        guard let parts = URLComponents(string: text), let scheme = parts.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = parts.host, !host.isEmpty, let url = parts.url
        else {
            context.error(.invalidValue, "'\(field)' must be an absolute http or https URL, not '\(text)'", at: node, hint: "for example: https://crm.example.com/api")
            return nil
        }
        if parts.user != nil || parts.password != nil {
            context.error(.invalidValue, "'\(field)' cannot hold credentials", at: node, hint: "use 'auth' with ${ secrets.NAME }")
            return nil
        }
        if parts.fragment != nil {
            context.error(.invalidValue, "'\(field)' cannot have a fragment (#…)", at: node)
            return nil
        }
        return url
    }

    private static func headerName(_ node: YAMLNode, context: FileContext) -> String? {
        guard let name = context.string(node, "header name") else { return nil }
        let token = CharacterSet(charactersIn: "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        guard !name.isEmpty, name.unicodeScalars.allSatisfy(token.contains) else {
            context.error(.invalidValue, "'\(name)' is not a valid header name", at: node)
            return nil
        }
        return name
    }

    private static func isHostName(_ text: String) -> Bool {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789.-:[]")
        return !text.isEmpty && text.unicodeScalars.allSatisfy(allowed.contains) && !text.hasPrefix(".") && !text.hasPrefix("-")
    }

    /// Text whose only templates are `${ secrets.NAME }`.
    static func secretText(_ node: YAMLNode, _ field: String, context: FileContext) -> SecretText? {
        guard let template = context.template(node, field, secretsAllowed: true) else { return nil }
        var parts: [SecretText.Part] = []
        var ok = true
        for part in template.parts {
            switch part {
            case .literal(let text): parts.append(.literal(text))
            case .expression(let expression):
                if let name = SecretReference.name(in: expression.source) {
                    parts.append(.secret(name))
                } else {
                    context.error(
                        .badTemplate, "'\(field)' may only use ${ secrets.NAME }, not ${ \(expression.source) }", at: expression.location,
                        hint: "connections are resolved once at start: no input, context or steps there")
                    ok = false
                }
            }
        }
        return ok ? SecretText(parts) : nil
    }
}

/// How a template names a secret, and whether an expression touches `secrets` at all.
enum SecretReference {
    /// `NAME` of an expression that is exactly `secrets.NAME`.
    static func name(in source: String) -> String? {
        let trimmed = source.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("secrets.") else { return nil }
        let name = trimmed.dropFirst("secrets.".count)
        guard let first = name.first, first.isASCII, first.isLetter || first == "_",
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        else { return nil }
        return String(name)
    }

    /// Whether Lua `source` reads the name `secrets` (not as a field `x.secrets` or inside a string).
    static func mentionsSecrets(_ source: String) -> Bool {
        let chars = Array(source)
        var i = 0
        var quote: Character?
        while i < chars.count {
            let c = chars[i]
            if let q = quote {
                if c == "\\" { i += 1 } else if c == q { quote = nil }
                i += 1
                continue
            }
            if c == "\"" || c == "'" {
                quote = c
                i += 1
                continue
            }
            if c.isLetter || c == "_" {
                var j = i
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                let word = String(chars[i..<j])
                let previous = chars[..<i].last { $0 != " " }
                if word == "secrets", previous != "." && previous != ":" { return true }
                i = j
                continue
            }
            i += 1
        }
        return false
    }
}
