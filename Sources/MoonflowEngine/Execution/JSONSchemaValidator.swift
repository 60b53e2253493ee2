import Foundation
package import MoonflowModel
import MoonflowSchema
import Synchronization

/// Validates with `MoonflowSchema` (draft 2020-12): run input, activity input and output schemas,
/// manual-task forms. Each schema is compiled once and cached.
///
/// Schemas can `$ref` other files of the definition (`payment.json` → `common.json#/$defs/money`):
/// the validator is given every schema file the definition pins, serves them from memory under
/// `moonflow:///<project-relative path>`, and compiles a schema that is one of those files with
/// that file's URI as its base, so relative references resolve exactly as on disk.
package final class JSONSchemaValidator: SchemaValidating {
    static let base = "moonflow:///"

    private let resolver: InMemorySchemaResolver
    private let pathOfDocument: [Value: String]
    private let options: JSONSchema.Options
    private let cache = Mutex<[Value: Result<JSONSchema, SchemaCompileError>]>([:])

    /// `schemaFiles`: project-relative path → parsed JSON of every schema file the definition uses.
    package init(schemaFiles: [String: Value], assertFormats: Bool = true) {
        var documents: [String: Value] = [:]
        var paths: [Value: String] = [:]
        for (path, document) in schemaFiles {
            documents[Self.base + path] = document
            paths[document] = paths[document] ?? path
        }
        resolver = InMemorySchemaResolver(documents)
        pathOfDocument = paths
        options = JSONSchema.Options(assertFormats: assertFormats)
    }

    /// From file texts (project-relative path → text): the `.json` ones that parse. A file that is
    /// not JSON is left out here; the loader reports it where a workflow uses it.
    package convenience init<Files: Sequence>(schemaTexts: Files) where Files.Element == (key: String, value: String) {
        var documents: [String: Value] = [:]
        for (path, text) in schemaTexts where path.hasSuffix(".json") {
            if let document = try? Value(json: text) { documents[path] = document }
        }
        self.init(schemaFiles: documents)
    }

    package func validate(_ value: Value, against schema: Value) -> [String] {
        switch compiled(schema) {
        case .success(let compiled): return compiled.validate(value).map { $0.line() }
        case .failure(let error): return ["the schema cannot be used: \(error)"]
        }
    }

    private func compiled(_ schema: Value) -> Result<JSONSchema, SchemaCompileError> {
        if let cached = cache.withLock({ $0[schema] }) { return cached }
        // Inline schemas live in workflow files; their relative references resolve from there.
        let base = URL(string: Self.base + (pathOfDocument[schema] ?? "workflows/inline.json"))
        let result = Result { () throws(SchemaCompileError) in
            try JSONSchema(schema, baseURI: base, resolver: resolver, options: options)
        }
        cache.withLock { $0[schema] = result }
        return result
    }
}
