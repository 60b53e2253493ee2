import MoonflowModel

/// The compiled form of a schema and everything it references: a flat table of nodes whose
/// keywords point at other nodes by index, so reference cycles are just indices and validation
/// never looks at the schema `Value` again.
final class SchemaProgram: Sendable {
    let nodes: [SchemaNode]
    /// For each schema resource, its `$dynamicAnchor` names and the nodes they name.
    let dynamicAnchors: [[String: Int]]
    /// Whether any `unevaluated*` keyword is reachable: only then are annotations collected.
    let collectsAnnotations: Bool
    let root: Int

    init(nodes: [SchemaNode], dynamicAnchors: [[String: Int]], collectsAnnotations: Bool, root: Int) {
        self.nodes = nodes
        self.dynamicAnchors = dynamicAnchors
        self.collectsAnnotations = collectsAnnotations
        self.root = root
    }
}

struct SchemaNode: Sendable {
    enum Body: Sendable {
        case boolean(Bool)
        case keywords([Keyword])
    }

    var body: Body
    /// The schema resource (nearest `$id`, or the document) the node belongs to: the unit of `$dynamicRef`'s dynamic scope.
    var resource: Int
}

/// The JSON types of `type`, with "integer" meaning any number with a zero fractional part.
struct JSONTypes: OptionSet, Sendable {
    let rawValue: UInt8
    static let null = JSONTypes(rawValue: 1)
    static let boolean = JSONTypes(rawValue: 2)
    static let integer = JSONTypes(rawValue: 4)
    static let number = JSONTypes(rawValue: 8)
    static let string = JSONTypes(rawValue: 16)
    static let array = JSONTypes(rawValue: 32)
    static let object = JSONTypes(rawValue: 64)

    static let names: [(String, JSONTypes)] = [
        ("null", .null), ("boolean", .boolean), ("integer", .integer), ("number", .number),
        ("string", .string), ("array", .array), ("object", .object),
    ]

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init?(name: String) {
        guard let entry = JSONTypes.names.first(where: { $0.0 == name }) else { return nil }
        self = entry.1
    }

    func admits(_ value: Value) -> Bool {
        switch value {
        case .null: contains(.null)
        case .bool: contains(.boolean)
        case .int: contains(.integer) || contains(.number)
        case .double(let d): contains(.number) || (contains(.integer) && d.isFinite && d == d.rounded())
        case .string: contains(.string)
        case .array: contains(.array)
        case .object: contains(.object)
        }
    }

    var description: String {
        JSONTypes.names.filter { contains($0.1) }.map(\.0).joined(separator: " or ")
    }
}

enum Bound: String, Sendable {
    case minimum, maximum, exclusiveMinimum, exclusiveMaximum

    var symbol: String {
        switch self {
        case .minimum: ">="
        case .maximum: "<="
        case .exclusiveMinimum: ">"
        case .exclusiveMaximum: "<"
        }
    }

    func admits(_ comparison: Int) -> Bool {
        switch self {
        case .minimum: comparison >= 0
        case .maximum: comparison <= 0
        case .exclusiveMinimum: comparison > 0
        case .exclusiveMaximum: comparison < 0
        }
    }
}

/// One compiled keyword (or a group that must be evaluated together, like `if`/`then`/`else`).
enum Keyword: Sendable {
    case type(JSONTypes)
    case enumeration([Value])
    case constant(Value)
    case bound(Bound, JSONNumber)
    case multipleOf(Decimal10, shown: JSONNumber)
    case minLength(Int)
    case maxLength(Int)
    case pattern(Pattern)
    case format(SchemaFormat)

    case prefixItems([Int])
    case items(Int, prefixCount: Int)
    /// `contains` with its `minContains` (1 unless given) and `maxContains`.
    case contains(Int, min: Int, minGiven: Bool, max: Int?)
    case minItems(Int)
    case maxItems(Int)
    case uniqueItems

    case properties([(name: String, node: Int)])
    case patternProperties([(pattern: Pattern, node: Int)])
    case additionalProperties(Int, known: Set<String>, patterns: [Pattern])
    case propertyNames(Int)
    case minProperties(Int)
    case maxProperties(Int)
    case required([String])
    case dependentRequired([(name: String, required: [String])])
    case dependentSchemas([(name: String, node: Int)])

    case allOf([Int])
    case anyOf([Int])
    case oneOf([Int])
    case not(Int)
    case conditional(if: Int, then: Int?, else: Int?)
    case ref(Int)
    /// The statically resolved target, and the anchor name to look up in the dynamic scope when
    /// that target carries a matching `$dynamicAnchor` (otherwise it acts like `$ref`).
    case dynamicRef(Int, anchor: String?)
    case unevaluatedProperties(Int)
    case unevaluatedItems(Int)

    /// The keyword's name in the schema path; `nil` for those that name their own path.
    var name: String? {
        switch self {
        case .type: "type"
        case .enumeration: "enum"
        case .constant: "const"
        case .bound(let bound, _): bound.rawValue
        case .multipleOf: "multipleOf"
        case .minLength: "minLength"
        case .maxLength: "maxLength"
        case .pattern: "pattern"
        case .format: "format"
        case .prefixItems: "prefixItems"
        case .items: "items"
        case .contains, .conditional: nil
        case .minItems: "minItems"
        case .maxItems: "maxItems"
        case .uniqueItems: "uniqueItems"
        case .properties: "properties"
        case .patternProperties: "patternProperties"
        case .additionalProperties: "additionalProperties"
        case .propertyNames: "propertyNames"
        case .minProperties: "minProperties"
        case .maxProperties: "maxProperties"
        case .required: "required"
        case .dependentRequired: "dependentRequired"
        case .dependentSchemas: "dependentSchemas"
        case .allOf: "allOf"
        case .anyOf: "anyOf"
        case .oneOf: "oneOf"
        case .not: "not"
        case .ref: "$ref"
        case .dynamicRef: "$dynamicRef"
        case .unevaluatedProperties: "unevaluatedProperties"
        case .unevaluatedItems: "unevaluatedItems"
        }
    }
}
