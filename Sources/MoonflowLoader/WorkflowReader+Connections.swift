import MoonflowModel
import MoonflowYAML

/// What a workflow names of moonflow.yaml's `connections` (docs/integrations.md): the connection of
/// a `call: http`, and the channels of notifications (a connection or `log`). Each is checked
/// against the project's connections when the loader knows them (`ProjectLoader.connections`).
struct ConnectionReference {
    enum Kind {
        /// `call: http`'s `with.connection`.
        case connection
        /// A notification channel: `notify:` of a manual activity, `workflow_error.notification.channels`.
        case channel
    }

    var name: String
    var kind: Kind
    var location: SourceLocation

    /// The diagnostic when `connections` does not hold the name (`log` is a channel too).
    func problem(connections: Set<String>) -> Diagnostic? {
        if connections.contains(name) || (kind == .channel && name == NotificationChannel.log) { return nil }
        let known = connections.sorted()
        var message =
            switch kind {
            case .connection: "no connection '\(name)' in moonflow.yaml"
            case .channel: "no notification channel '\(name)': a channel is a connection of moonflow.yaml or 'log'"
            }
        if let suggestion = Suggest.closest(to: name, in: known + (kind == .channel ? [NotificationChannel.log] : [])) {
            message += " — did you mean '\(suggestion)'?"
        }
        return Diagnostic(
            .unknownReference, message, at: location,
            hint: known.isEmpty ? "moonflow.yaml defines no connections" : "defined: \(known.joined(separator: ", "))")
    }
}

/// The name of the channel that logs a notification instead of sending it.
enum NotificationChannel {
    static let log = "log"
}

extension WorkflowReader {
    /// Checks `with:` of a `call: http` as far as it is written out (a `${ }` stands for what it
    /// evaluates to at run time): the keys a request has, a connection, a known method, `json` or
    /// `body` but not both, a path relative to the connection.
    func checkHTTPRequest(_ map: MappingReader, owner: String) {
        guard let with = map["with"] ?? map["params"] else {
            context.error(.missingKey, "'\(owner)' calls http and needs `with: {connection: <name>, method, path}`", at: map.keyLocation("call"))
            return
        }
        if let text = with.scalar?.text, text.contains("${") { return }
        guard let request = MappingReader(with, context, what: "the request of `call: http`", allowed: HTTPCall.keys) else { return }
        if let n = request["connection"] {
            if let name = n.scalar?.text, !name.contains("${") {
                if name.isEmpty {
                    context.error(.invalidValue, "'connection' names a connection of moonflow.yaml", at: n)
                } else {
                    connectionReferences.append(ConnectionReference(name: name, kind: .connection, location: n.location))
                }
            } else if n.scalar == nil {
                context.error(.typeMismatch, "'connection' must be a connection's name, not \(n.kindDescription)", at: n)
            }
        } else {
            context.error(.missingKey, "the request of `call: http` needs a 'connection' (a connection of moonflow.yaml)", at: with)
        }
        if let n = request["method"], let method = n.scalar?.text, !method.contains("${"), !HTTPCall.methods.contains(method.uppercased()) {
            context.error(.invalidValue, "'method' must be one of \(HTTPCall.methods.joined(separator: ", ")), not '\(method)'", at: n)
        }
        if let n = request["path"], let path = n.scalar?.text, path.contains("://") || path.hasPrefix("//") {
            context.error(.invalidValue, "'path' is relative to the connection's url, not '\(path)'", at: n, hint: "put the service's address in the connection's url")
        }
        if request.has("json"), request.has("body") {
            context.error(.conflictingKeys, "give 'json' or 'body', not both", at: request.keyLocation("body"))
        }
    }

    /// Notification channels written in the workflow, checked against the project's connections.
    func noteChannels(_ entries: [(String, YAMLNode)]) {
        for (name, node) in entries { connectionReferences.append(ConnectionReference(name: name, kind: .channel, location: node.location)) }
    }
}
