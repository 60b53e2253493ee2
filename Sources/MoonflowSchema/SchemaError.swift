/// One reason an instance does not satisfy a schema.
package struct SchemaError: Sendable, Equatable, CustomStringConvertible {
    /// JSON Pointer to the failing part of the instance (`""` is the whole instance), e.g. `/items/2/price`.
    package var instancePath: String
    /// JSON Pointer to the failing keyword along the evaluation path, `$ref`s included,
    /// e.g. `/properties/items/items/$ref/properties/price/minimum`.
    package var schemaPath: String
    /// What is wrong, in words (`must be >= 0`).
    package var message: String

    package init(instancePath: String, schemaPath: String, message: String) {
        self.instancePath = instancePath
        self.schemaPath = schemaPath
        self.message = message
    }

    package var description: String { "\(instancePath.isEmpty ? "(root)" : instancePath): \(message)" }
}

/// A schema that cannot be compiled: a keyword of the wrong type, a bad regex, a `$ref` that
/// resolves to nothing, a resolver failure or a required vocabulary this validator lacks.
package struct SchemaCompileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable codes, for callers that branch on the kind of problem.
    package enum Code: String, Sendable {
        case invalidKeyword = "invalid_keyword"
        case invalidRegex = "invalid_regex"
        case unresolvedReference = "unresolved_reference"
        case resolutionFailed = "resolution_failed"
        case unsupportedVocabulary = "unsupported_vocabulary"
    }

    package var code: Code
    /// The document holding the problem (its URI), `nil` for the schema given to the initialiser.
    package var document: String?
    /// JSON Pointer to the offending keyword inside that document, e.g. `/properties/id/pattern`.
    package var schemaPath: String
    package var message: String

    package init(code: Code, document: String? = nil, schemaPath: String, message: String) {
        self.code = code
        self.document = document
        self.schemaPath = schemaPath
        self.message = message
    }

    package var description: String {
        let place = (document.map { $0 + "#" } ?? "") + (schemaPath.isEmpty ? "(root)" : schemaPath)
        return "\(place): \(message)"
    }
}
