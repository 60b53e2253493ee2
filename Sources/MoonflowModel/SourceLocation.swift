/// A position in a source file: 1-based line and column (columns count Unicode scalars).
///
/// Locations never take part in equality of the things that carry them, so a loaded definition
/// equals one built by hand.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public static let unknown = SourceLocation(file: "<unknown>", line: 0, column: 0)

    public var description: String { "\(file):\(line):\(column)" }
}

/// Wraps a value so that it is ignored by `==` and hashing (a location on a model value).
@propertyWrapper
public struct IgnoredInEquality<Wrapped: Sendable>: Sendable, Hashable {
    public var wrappedValue: Wrapped
    public init(wrappedValue: Wrapped) { self.wrappedValue = wrappedValue }
    public static func == (_: Self, _: Self) -> Bool { true }
    public func hash(into _: inout Hasher) {}
}
