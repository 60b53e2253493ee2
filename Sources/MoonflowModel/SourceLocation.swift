/// A position in a source file: 1-based line and column (columns count Unicode scalars).
///
/// Locations never take part in equality of the things that carry them, so a loaded definition
/// equals one built by hand.
package struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    package var file: String
    package var line: Int
    package var column: Int

    package init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    package static let unknown = SourceLocation(file: "<unknown>", line: 0, column: 0)

    package var description: String { "\(file):\(line):\(column)" }
}

/// Wraps a value so that it is ignored by `==` and hashing (a location on a model value).
@propertyWrapper
package struct IgnoredInEquality<Wrapped: Sendable>: Sendable, Hashable {
    package var wrappedValue: Wrapped
    package init(wrappedValue: Wrapped) { self.wrappedValue = wrappedValue }
    package static func == (_: Self, _: Self) -> Bool { true }
    package func hash(into _: inout Hasher) {}
}
