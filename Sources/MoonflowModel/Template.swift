package import OrderedCollections

/// A `${ … }` Lua expression found in a YAML scalar (docs/expressions.md), with where it starts in the file.
package struct Expression: Sendable, Hashable, CustomStringConvertible {
    /// The Lua source between `${` and `}`, trimmed.
    package var source: String
    @IgnoredInEquality package var location: SourceLocation

    package init(_ source: String, location: SourceLocation = .unknown) {
        self.source = source
        self.location = location
    }

    package var description: String { "${ \(source) }" }
}

/// A string that may contain `${ }` expressions.
package struct Template: Sendable, Hashable {
    package enum Part: Sendable, Hashable {
        case literal(String)
        case expression(Expression)
    }

    package var parts: [Part]

    package init(parts: [Part]) { self.parts = parts }

    /// The single expression when the whole scalar is exactly one `${ }`: its value keeps its type.
    package var wholeExpression: Expression? {
        if parts.count == 1, case .expression(let e) = parts[0] { return e }
        return nil
    }

    package var expressions: [Expression] {
        parts.compactMap { if case .expression(let e) = $0 { e } else { nil } }
    }
}

/// A value tree whose strings may hold templates: the shape of `with:`, `output:`, trigger `input:`.
package indirect enum ValueTemplate: Sendable, Hashable {
    case value(Value)
    case template(Template)
    case array([ValueTemplate])
    case object(OrderedDictionary<String, ValueTemplate>)

    /// The value of a tree without expressions (the loader folds such a tree into `.value`).
    package var constant: Value? {
        if case .value(let value) = self { value } else { nil }
    }

    /// Every expression in the tree, in document order.
    package var expressions: [Expression] {
        switch self {
        case .value: []
        case .template(let t): t.expressions
        case .array(let items): items.flatMap(\.expressions)
        case .object(let members): members.values.flatMap(\.expressions)
        }
    }
}
