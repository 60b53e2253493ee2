import Foundation
import MoonflowModel

/// A JSON Schema (draft 2020-12), compiled once and then used to validate any number of `Value`s,
/// from any thread.
///
/// ```swift
/// let schema = try JSONSchema(["type": "object", "required": ["id"]])
/// schema.validate(["name": "x"])  // [SchemaError(instancePath: "", schemaPath: "/required", message: "missing required property 'id'")]
/// ```
public struct JSONSchema: Sendable {
    public struct Options: Sendable {
        /// Make `format` an assertion for the formats of `SchemaFormat` (by default it is only an annotation).
        public var assertFormats: Bool
        /// `validate` stops collecting after this many errors.
        public var maxErrors: Int
        /// How deeply schemas may nest during one evaluation (each subschema applied, `$ref`s
        /// included); deeper instances fail with an error instead of exhausting the stack, and a
        /// reference cycle that never consumes the instance ends the same way.
        public var maxDepth: Int

        public init(assertFormats: Bool = false, maxErrors: Int = 100, maxDepth: Int = 512) {
            self.assertFormats = assertFormats
            self.maxErrors = maxErrors
            self.maxDepth = maxDepth
        }
    }

    /// The base URI used when none is given: relative references resolve against it.
    public static let defaultBaseURI = "urn:moonflow:schema"

    private let program: SchemaProgram
    public let options: Options

    /// Compiles `schema`. `baseURI` is where it was read from (e.g. its file URL), against which
    /// relative `$ref`s resolve; `resolver` supplies the documents that other URIs name (the
    /// draft 2020-12 meta-schemas are built in).
    public init(
        _ schema: Value, baseURI: URL? = nil, resolver: (any SchemaResolver)? = nil, options: Options = Options()
    ) throws(SchemaCompileError) {
        let base = baseURI.map { URIReference($0.absoluteString).withoutFragment } ?? JSONSchema.defaultBaseURI
        var compiler = SchemaCompiler(rootDocument: base, resolver: resolver, assertFormats: options.assertFormats)
        program = try compiler.compile(schema)
        self.options = options
    }

    /// Every failure (up to `options.maxErrors`), in schema order; empty when `instance` is valid.
    public func validate(_ instance: Value) -> [SchemaError] {
        var evaluator = Evaluator(program: program, reporting: true, maxErrors: options.maxErrors, maxDepth: options.maxDepth)
        _ = evaluator.run(instance)
        return evaluator.errors
    }

    /// Whether `instance` is valid: stops at the first failure and records nothing.
    public func isValid(_ instance: Value) -> Bool {
        var evaluator = Evaluator(program: program, reporting: false, maxErrors: 0, maxDepth: options.maxDepth)
        return evaluator.run(instance)
    }
}
