import MoonflowModel

/// Wording helpers for validation messages.
enum Message {
    static func count(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(n) \(n == 1 ? singular : plural ?? singular + "s")"
    }

    /// A value as JSON, shortened when long.
    static func short(_ value: Value) -> String {
        let text = value.jsonString()
        return text.count <= 60 ? text : String(text.prefix(57)) + "..."
    }

    static func list(_ values: [Value]) -> String {
        let shown = values.prefix(10).map(short).joined(separator: ", ")
        return values.count > 10 ? shown + ", … (\(values.count) values)" : shown
    }

    /// Errors that only say the instance has another shape than the branch wants
    /// (`type`, `const`, `enum` at the alternative's own location).
    static func isShapeMismatch(_ errors: [SchemaError], at here: String) -> Bool {
        errors.allSatisfy { error in
            error.instancePath == here
                && ["/type", "/const", "/enum"].contains(where: { error.schemaPath.hasSuffix($0) })
        }
    }

    /// An error of a branch, with its instance path relative to the alternative's location.
    static func relative(_ error: SchemaError, to here: String) -> String {
        guard error.instancePath != here, error.instancePath.hasPrefix(here) else { return error.message }
        return "\(error.instancePath.dropFirst(here.count)): \(error.message)"
    }
}
