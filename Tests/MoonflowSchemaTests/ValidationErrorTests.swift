import MoonflowModel
import Testing

@testable import MoonflowSchema

/// Errors name the exact instance path, keyword path and message.
@Suite("Validation errors")
struct ValidationErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var schema: String
        var instance: String
        var errors: [SchemaError]
        var testDescription: String { schema }

        init(_ schema: String, _ instance: String, _ errors: [(String, String, String)]) {
            self.schema = schema
            self.instance = instance
            self.errors = errors.map { SchemaError(instancePath: $0.0, schemaPath: $0.1, message: $0.2) }
        }
    }

    static let cases: [Case] = [
        Case(#"{"type": "string"}"#, "1", [("", "/type", "must be string, got integer")]),
        Case(#"{"type": ["string", "null"]}"#, "1.5", [("", "/type", "must be null or string, got number")]),
        Case(#"{"type": "integer"}"#, "1.0", []),
        Case(#"{"const": {"a": [1, 2]}}"#, #"{"a": [1.0, 2]}"#, []),
        Case(#"{"enum": ["low", "high"]}"#, #""mid""#, [("", "/enum", #"must be one of "low", "high""#)]),
        Case(#"{"minimum": 0}"#, "-1", [("", "/minimum", "must be >= 0")]),
        Case(#"{"exclusiveMaximum": 10}"#, "10", [("", "/exclusiveMaximum", "must be < 10")]),
        Case(#"{"multipleOf": 0.01}"#, "19.99", []),
        Case(#"{"multipleOf": 0.01}"#, "19.999", [("", "/multipleOf", "must be a multiple of 0.01")]),
        Case(#"{"minLength": 2}"#, #""é""#, [("", "/minLength", "must be at least 2 characters long")]),
        Case(#"{"maxLength": 1}"#, #""😀""#, []),
        Case(#"{"pattern": "^[a-z]+$"}"#, #""abc\n""#, [("", "/pattern", "must match the pattern ^[a-z]+$")]),
        Case(#"{"pattern": "^\\d+$"}"#, #""١٢""#, [("", "/pattern", #"must match the pattern ^\d+$"#)]),
        Case(
            #"{"properties": {"items": {"items": {"properties": {"price": {"minimum": 0}}}}}}"#,
            #"{"items": [{"price": 1}, {"price": 2}, {"price": -3}]}"#,
            [("/items/2/price", "/properties/items/items/properties/price/minimum", "must be >= 0")]),
        Case(
            #"{"required": ["a", "b"], "properties": {"c": {"type": "string"}}}"#, #"{"c": 1}"#,
            [
                ("", "/required", "missing required property 'a'"),
                ("", "/required", "missing required property 'b'"),
                ("/c", "/properties/c/type", "must be string, got integer"),
            ]),
        Case(
            #"{"properties": {"a": true}, "additionalProperties": false}"#, #"{"a": 1, "b~/": 2}"#,
            [("/b~0~1", "/additionalProperties", "unknown property")]),
        Case(
            ##"{"$defs": {"price": {"type": "number", "minimum": 0}}, "properties": {"p": {"$ref": "#/$defs/price"}}}"##,
            #"{"p": -1}"#, [("/p", "/properties/p/$ref/minimum", "must be >= 0")]),
        Case(
            #"{"anyOf": [{"type": "string"}, {"type": "object", "properties": {"max": {"minimum": 1}}}]}"#,
            #"{"max": 0}"#, [("/max", "/anyOf/1/properties/max/minimum", "must be >= 1")]),
        Case(
            #"{"anyOf": [{"type": "string"}, {"type": "integer"}]}"#, "true",
            [("", "/anyOf", "must match at least one schema in anyOf: [0] must be string, got boolean; [1] must be integer, got boolean")]),
        Case(
            #"{"oneOf": [{"minimum": 0}, {"maximum": 10}]}"#, "5",
            [("", "/oneOf", "must match exactly one schema in oneOf, but matches 0, 1")]),
        Case(#"{"not": {"type": "null"}}"#, "null", [("", "/not", "must not match the schema in not")]),
        Case(
            #"{"if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["x"]}, "else": {"required": ["y"]}}"#,
            #"{"kind": "a"}"#, [("", "/then/required", "missing required property 'x'")]),
        Case(
            #"{"contains": {"type": "integer"}, "maxContains": 1}"#, #"[1, "a", 2]"#,
            [("", "/maxContains", "must contain at most 1 item matching the contains schema (found 2)")]),
        Case(#"{"contains": {"type": "integer"}}"#, #"["a"]"#, [("", "/contains", "must contain at least 1 item matching the contains schema (found 0)")]),
        Case(#"{"uniqueItems": true}"#, "[1, {\"a\": 1}, 1.0]", [("", "/uniqueItems", "must not contain duplicates (items 0 and 2 are equal)")]),
        Case(#"{"propertyNames": {"pattern": "^[a-z]+$"}}"#, #"{"Bad": 1}"#, [("/Bad", "/propertyNames/pattern", "property name must match the pattern ^[a-z]+$")]),
        Case(
            #"{"dependentRequired": {"card": ["cvv"]}}"#, #"{"card": "x"}"#,
            [("", "/dependentRequired/card", "missing property 'cvv', required when 'card' is present")]),
        Case(
            #"{"prefixItems": [{"type": "string"}], "items": false}"#, #"["a", 1]"#, [("/1", "/items", "is not allowed")]),
        Case(
            #"{"allOf": [{"properties": {"a": true}}], "unevaluatedProperties": false}"#, #"{"a": 1, "b": 2}"#,
            [("/b", "/unevaluatedProperties", "unknown property")]),
        Case(#"{"format": "email"}"#, #""not an email""#, []),
        Case(#"{"minProperties": 1}"#, "{}", [("", "/minProperties", "must have at least 1 property")]),
        Case(#"{"maxItems": 1}"#, "[1, 2]", [("", "/maxItems", "must have at most 1 item")]),
        Case("false", "1", [("", "", "is not allowed")]),
    ]

    @Test(arguments: cases)
    func errors(_ c: Case) throws {
        let schema = try JSONSchema(try Value(json: c.schema))
        let instance = try Value(json: c.instance)
        #expect(schema.validate(instance) == c.errors)
        #expect(schema.isValid(instance) == c.errors.isEmpty)
    }

    @Test func formatAssertionIsOptIn() throws {
        let schema = try JSONSchema(["format": "date-time"], options: .init(assertFormats: true))
        #expect(schema.validate("2024-02-30T10:00:00Z") == [SchemaError(instancePath: "", schemaPath: "/format", message: "must be a valid date-time")])
        #expect(schema.isValid("2024-02-29T10:00:00.5+01:00"))
    }

    @Test func errorCountIsCapped() throws {
        let schema = try JSONSchema(["items": ["type": "string"]], options: .init(maxErrors: 3))
        #expect(schema.validate(.array(Array(repeating: 1, count: 50))).count == 3)
    }

    @Test func renderingNamesFields() throws {
        let schema = try JSONSchema(try Value(json: #"{"properties": {"items": {"items": {"properties": {"price": {"minimum": 0}, "sku": {"type": "string"}}}}}}"#))
        let errors = schema.validate(try Value(json: #"{"items": [{"price": -1, "sku": 7}]}"#))
        #expect(errors.oneLineSummary(under: "input") == "input/items/0/price: must be >= 0; input/items/0/sku: must be string, got integer")
        #expect(errors.multiLineSummary() == "items/0/price: must be >= 0\nitems/0/sku: must be string, got integer")
        #expect(errors.oneLineSummary(under: "input", limit: 1) == "input/items/0/price: must be >= 0 (and 1 more)")
        #expect(SchemaError(instancePath: "", schemaPath: "", message: "x").line() == "(root): x")
    }
}
