import Foundation
import MoonflowModel
import MoonflowSchema

/// `schema`: validations per second of a realistic order document (22 properties, 12 line items
/// with their own object schema, formats, patterns, enums) against its compiled schema.
///
/// The floor is `Value(json:)` parsing the same document, measured in the same run: a single
/// linear pass over the same data that every API request pays before validating, so the ratio
/// says how many parses one validation costs, whatever the machine.
struct SchemaScenario: BenchScenario {
    var name: String { "schema" }

    static let schema: Value = {
        let money: Value = ["type": "number", "minimum": 0, "multipleOf": 0.01]
        let address: Value = [
            "type": "object", "required": ["street", "city", "postcode", "country"], "additionalProperties": false,
            "properties": [
                "street": ["type": "string", "minLength": 1, "maxLength": 200],
                "city": ["type": "string", "minLength": 1],
                "postcode": ["type": "string", "pattern": "^[A-Z0-9 -]{3,10}$"],
                "country": ["type": "string", "pattern": "^[A-Z]{2}$"],
            ],
        ]
        let item: Value = [
            "type": "object", "required": ["sku", "name", "quantity", "unit_price"], "additionalProperties": false,
            "properties": [
                "sku": ["type": "string", "pattern": "^[A-Z]{3}-[0-9]{4,8}$"],
                "name": ["type": "string", "minLength": 1, "maxLength": 120],
                "quantity": ["type": "integer", "minimum": 1, "maximum": 1000],
                "unit_price": ["$ref": "#/$defs/money"],
                "discount": ["type": "number", "minimum": 0, "maximum": 1],
                "tags": ["type": "array", "items": ["type": "string"], "uniqueItems": true, "maxItems": 10],
            ],
        ]
        return [
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object", "additionalProperties": false,
            "required": ["id", "customer_id", "email", "status", "currency", "created_at", "items", "total"],
            "$defs": ["money": money, "address": address, "item": item],
            "properties": [
                "id": ["type": "string", "format": "uuid"],
                "customer_id": ["type": "string", "pattern": "^C[0-9]{6,10}$"],
                "email": ["type": "string", "format": "email"],
                "status": ["enum": ["new", "paid", "packed", "shipped", "delivered", "cancelled"]],
                "currency": ["enum": ["EUR", "USD", "GBP", "CHF", "JPY"]],
                "created_at": ["type": "string", "format": "date-time"],
                "updated_at": ["type": "string", "format": "date-time"],
                "channel": ["enum": ["web", "mobile", "store", "phone"]],
                "priority": ["type": "integer", "minimum": 0, "maximum": 9],
                "gift": ["type": "boolean"],
                "note": ["type": ["string", "null"], "maxLength": 500],
                "coupon": ["type": "string", "pattern": "^[A-Z0-9]{4,12}$"],
                "billing": ["$ref": "#/$defs/address"],
                "shipping": ["$ref": "#/$defs/address"],
                "items": ["type": "array", "minItems": 1, "maxItems": 100, "items": ["$ref": "#/$defs/item"]],
                "subtotal": ["$ref": "#/$defs/money"],
                "tax": ["$ref": "#/$defs/money"],
                "shipping_cost": ["$ref": "#/$defs/money"],
                "total": ["$ref": "#/$defs/money"],
                "ip": ["type": "string", "format": "ipv4"],
                "website": ["type": "string", "format": "uri"],
                "metadata": ["type": "object", "maxProperties": 20, "additionalProperties": ["type": "string"]],
            ],
        ]
    }()

    static let document: String = {
        let items = (0..<12).map { i in
            #"{"sku": "ABC-\#(1000 + i)", "name": "Item \#(i)", "quantity": \#(i + 1), "unit_price": 19.99, "discount": 0.1, "tags": ["a", "b"]}"#
        }
        let address = #"{"street": "1 Main Street", "city": "Lyon", "postcode": "69001", "country": "FR"}"#
        return #"""
            {"id": "3f2b8c1e-7d4a-4b9e-a1c2-5e6f7a8b9c0d", "customer_id": "C0012345", "email": "ana@example.com",
             "status": "paid", "currency": "EUR", "created_at": "2025-03-01T10:15:00Z", "updated_at": "2025-03-01T10:16:30.5+01:00",
             "channel": "web", "priority": 3, "gift": false, "note": null, "coupon": "SPRING25",
             "billing": \#(address), "shipping": \#(address), "items": [\#(items.joined(separator: ", "))],
             "subtotal": 239.88, "tax": 47.98, "shipping_cost": 4.99, "total": 292.85,
             "ip": "192.168.1.20", "website": "https://example.com/shop?ref=42", "metadata": {"source": "newsletter"}}
            """#
    }()

    func run(_ context: BenchContext) async throws -> [BenchFigure] {
        let repetitions = context.repetitions
        let schema = try JSONSchema(Self.schema, options: .init(assertFormats: true))
        let document = try Value(json: Self.document)
        guard schema.isValid(document), schema.validate(document).isEmpty else {
            throw BenchError(description: "schema: the sample order should be valid: \(schema.validate(document))")
        }
        guard case .object(var broken) = document else { throw BenchError(description: "schema: the sample is not an object") }
        broken["total"] = -1
        broken["email"] = "nobody"
        let brokenErrors = schema.validate(.object(broken)).map(\.instancePath)
        guard brokenErrors == ["/email", "/total"] else {
            throw BenchError(description: "schema: expected errors at /email and /total, got \(brokenErrors)")
        }

        let operations = 2_000
        let text = Array(Self.document.utf8)
        var sink = 0
        let parse = try Bench.medianNanos(repetitions: repetitions, operations: operations) {
            for _ in 0..<operations { if case .object(let o) = try Value(json: text) { sink &+= o.count } }
        }
        let isValid = Bench.medianNanos(repetitions: repetitions, operations: operations) {
            for _ in 0..<operations where schema.isValid(document) { sink &+= 1 }
        }
        let validate = Bench.medianNanos(repetitions: repetitions, operations: operations) {
            for _ in 0..<operations { sink &+= schema.validate(document).count }
        }
        guard sink != 0 else { throw BenchError(description: "schema: nothing was measured") }
        let checked = "valid order accepted; broken order rejected at /email, /total"
        let floor = BenchFloor(name: "Value(json:) parse of the same document", nanos: parse)
        return [
            BenchFigure(scenario: name, metric: "isValid", nanosPerOp: isValid, unit: "validation", checked: checked, floor: floor),
            BenchFigure(scenario: name, metric: "validate", nanosPerOp: validate, unit: "validation", checked: checked, floor: floor),
        ]
    }
}
