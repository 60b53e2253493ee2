package import MoonflowModel

/// Validates values against JSON Schemas: run input (`workflow.input`), activity input and output
/// schemas, manual-task forms. A seam so the engine needs no particular validator.
package protocol SchemaValidating: Sendable {
    /// The validation errors of `value` against the schema document `schema`; empty when valid.
    func validate(_ value: Value, against schema: Value) -> [String]
}

extension SchemaValidating {
    /// Throws `SchemaInvalid` listing the errors, the way activities and starts report them.
    func check(_ value: Value, against schema: SchemaDefinition?, what: String) throws(ActivityFailure) {
        guard let schema else { return }
        let errors = validate(value, against: schema.schema)
        guard !errors.isEmpty else { return }
        throw ActivityFailure(
            .schemaInvalid, "\(what) does not match its schema: \(errors.joined(separator: "; "))", retryable: false,
            details: .array(errors.map(Value.string)))
    }
}
