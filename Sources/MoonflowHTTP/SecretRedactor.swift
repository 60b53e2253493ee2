import Foundation
import MoonflowModel
import OrderedCollections

/// Replaces every secret value in what a service answers with `[secret:NAME]` before anything
/// else sees it (docs/integrations.md, "Secrets and redaction"). The connector is the only way a
/// secret value can come back into the engine — a service echoing a header, an error quoting a
/// token — so what it hands on is all that needs the pass: outputs, errors, the journal, reports,
/// logs, events and scripts only ever see redacted answers.
struct SecretRedactor: Sendable {
    /// Longest first, so a secret containing another is replaced whole.
    private let replacements: [(value: String, marker: String)]

    /// Every secret, and the forms of them a request sends (`base64(user:password)` of basic auth).
    init(secrets: [String: String], derived: [(value: String, name: String)] = []) {
        var all = secrets.map { (value: $0.value, marker: "[secret:\($0.key)]") }
        all += derived.map { (value: $0.value, marker: "[secret:\($0.name)]") }
        replacements = all.filter { !$0.value.isEmpty }.sorted { $0.value.utf8.count > $1.value.utf8.count }
    }

    private init(replacements: [(value: String, marker: String)]) { self.replacements = replacements }

    /// This redactor, also replacing `value` (an OAuth token of this request) with `[secret:name]`.
    func adding(_ value: String, name: String) -> SecretRedactor {
        var all = replacements + [(value, "[secret:\(name)]")]
        all.sort { $0.value.utf8.count > $1.value.utf8.count }
        return SecretRedactor(replacements: all)
    }

    func redact(_ text: String) -> String {
        var text = text
        for (value, marker) in replacements where text.contains(value) {
            text = text.replacingOccurrences(of: value, with: marker)
        }
        return text
    }

    /// Every string of `value`, keys included.
    func redact(_ value: Value) -> Value {
        switch value {
        case .string(let text): return .string(redact(text))
        case .array(let items): return .array(items.map(redact))
        case .object(let members):
            var out = OrderedDictionary<String, Value>()
            for (key, member) in members { out[redact(key)] = redact(member) }
            return .object(out)
        default: return value
        }
    }

    func redact(_ response: HTTPCallResponse) -> HTTPCallResponse {
        guard !replacements.isEmpty else { return response }
        var response = response
        var headers = OrderedDictionary<String, String>()
        for (name, value) in response.headers { headers[name] = redact(value) }
        response.headers = headers
        switch response.body {
        case .json(let json): response.body = .json(redact(json))
        case .text(let text): response.body = .text(redact(text))
        }
        return response
    }

    func redact(_ failure: ActivityFailure) -> ActivityFailure {
        guard !replacements.isEmpty else { return failure }
        var failure = failure
        failure.message = redact(failure.message)
        failure.details = failure.details.map(redact)
        return failure
    }
}
