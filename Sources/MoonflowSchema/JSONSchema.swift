package import Foundation
package import MoonflowModel

/// A JSON Schema (draft 2020-12), compiled once and then used to validate any number of `Value`s,
/// from any thread.
///
/// ```swift
/// let schema = try JSONSchema(["type": "object", "required": ["id"]])
/// schema.validate(["name": "x"])  // [SchemaError(instancePath: "", schemaPath: "/required", message: "missing required property 'id'")]
/// ```
package struct JSONSchema: Sendable {
    package struct Options: Sendable {
        /// Make `format` an assertion for the formats of `SchemaFormat` (by default it is only an annotation).
        package var assertFormats: Bool
        /// `validate` stops collecting after this many errors.
        package var maxErrors: Int
        /// How deeply schemas may nest during one evaluation (each subschema applied, `$ref`s
        /// included); deeper instances fail with an error instead of exhausting the stack, and a
        /// reference cycle that never consumes the instance ends the same way.
        package var maxDepth: Int
        /// How long one validation may spend matching `pattern` and `patternProperties` regexes,
        /// all of them together. Past it the match is stopped and the instance is invalid, with an
        /// error at the field whose pattern was running: a catastrophic pattern (`^(a+)+$`) costs
        /// a caller at most this much CPU time, whatever the input. It is the CPU time of the
        /// thread that validates, so a busy machine does not make a legitimate pattern fail.
        package var patternTimeLimit: Duration

        package init(assertFormats: Bool = false, maxErrors: Int = 100, maxDepth: Int = 512, patternTimeLimit: Duration = .milliseconds(25)) {
            self.assertFormats = assertFormats
            self.maxErrors = maxErrors
            self.maxDepth = maxDepth
            self.patternTimeLimit = patternTimeLimit
        }
    }

    /// The base URI used when none is given: relative references resolve against it.
    package static let defaultBaseURI = "urn:moonflow:schema"

    private let program: SchemaProgram
    package let options: Options

    /// Compiles `schema`. `baseURI` is where it was read from (e.g. its file URL), against which
    /// relative `$ref`s resolve; `resolver` supplies the documents that other URIs name (the
    /// draft 2020-12 meta-schemas are built in).
    package init(
        _ schema: Value, baseURI: URL? = nil, resolver: (any SchemaResolver)? = nil, options: Options = Options()
    ) throws(SchemaCompileError) {
        let base = baseURI.map { URIReference($0.absoluteString).withoutFragment } ?? JSONSchema.defaultBaseURI
        var compiler = SchemaCompiler(rootDocument: base, resolver: resolver, assertFormats: options.assertFormats)
        program = try compiler.compile(schema)
        self.options = options
    }

    /// Every failure (up to `options.maxErrors`), in schema order; empty when `instance` is valid.
    package func validate(_ instance: Value) -> [SchemaError] {
        var evaluator = Evaluator(
            program: program, reporting: true, maxErrors: options.maxErrors, maxDepth: options.maxDepth, patternTimeLimit: options.patternTimeLimit)
        _ = evaluator.run(instance)
        // A pattern that ran out of time invalidates the instance whatever surrounds it (`not`, `anyOf`).
        guard let exhausted = evaluator.budgetError else { return evaluator.errors }
        return [exhausted] + evaluator.errors.prefix(max(0, options.maxErrors - 1))
    }

    /// Whether `instance` is valid: stops at the first failure and records nothing.
    package func isValid(_ instance: Value) -> Bool {
        var evaluator = Evaluator(program: program, reporting: false, maxErrors: 0, maxDepth: options.maxDepth, patternTimeLimit: options.patternTimeLimit)
        return evaluator.run(instance) && evaluator.budgetError == nil
    }
}
