package import OrderedCollections

/// The one value type shared by YAML, Lua, JSON, the store and the API (docs/sandbox.md).
///
/// Integers and floating-point numbers stay distinct, and objects keep their key order.
/// Equality is semantic for objects (key order does not matter) and strict for numbers
/// (`.int(1) != .double(1)`); JSON Schema's numeric equality lives in the schema module.
package enum Value: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([Value])
    case object(OrderedDictionary<String, Value>)
}

extension Value: Equatable {
    package static func == (lhs: Value, rhs: Value) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            guard a.count == b.count else { return false }
            for (key, value) in a where b[key] != value { return false }
            return true
        default: return false
        }
    }
}

extension Value: Hashable {
    package func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        case .int(let i): hasher.combine(2); hasher.combine(i)
        case .double(let d): hasher.combine(3); hasher.combine(d)
        case .string(let s): hasher.combine(4); hasher.combine(s)
        case .array(let a): hasher.combine(5); hasher.combine(a)
        case .object(let o):
            // Order-insensitive, to agree with `==`.
            hasher.combine(6)
            hasher.combine(o.count)
            var sum = 0
            for (key, value) in o {
                var h = Hasher()
                h.combine(key)
                h.combine(value)
                sum &+= h.finalize()
            }
            hasher.combine(sum)
        }
    }
}

extension Value: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    package init(nilLiteral: ()) { self = .null }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(integerLiteral value: Int64) { self = .int(value) }
    package init(floatLiteral value: Double) { self = .double(value) }
    package init(stringLiteral value: String) { self = .string(value) }
    package init(arrayLiteral elements: Value...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, Value)...) {
        self = .object(OrderedDictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension Value {
    /// The JSON type name, as used in error messages and by JSON Schema's `type`.
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    package var isNull: Bool { if case .null = self { true } else { false } }
    package var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    package var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    package var intValue: Int64? { if case .int(let i) = self { i } else { nil } }
    package var arrayValue: [Value]? { if case .array(let a) = self { a } else { nil } }
    package var objectValue: OrderedDictionary<String, Value>? { if case .object(let o) = self { o } else { nil } }

    /// Any number as a `Double` (integers converted).
    package var numberValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    /// Member access on objects; `nil` for other kinds or a missing key.
    package subscript(key: String) -> Value? {
        if case .object(let o) = self { o[key] } else { nil }
    }

    /// Lua-like truthiness used for `when` conditions: only `null` and `false` are false.
    package var isTruthy: Bool {
        switch self {
        case .null: false
        case .bool(let b): b
        default: true
        }
    }
}
