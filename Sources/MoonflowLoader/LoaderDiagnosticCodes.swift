package import MoonflowModel

extension DiagnosticCode {
    /// A key the format does not know (with a suggestion when one is close).
    package static let unknownKey = DiagnosticCode("UnknownKey")
    /// A required key is missing.
    package static let missingKey = DiagnosticCode("MissingKey")
    /// A value of the wrong kind (a list where a mapping is expected, text where a number is…).
    package static let typeMismatch = DiagnosticCode("TypeMismatch")
    /// A number or duration outside its allowed range.
    package static let outOfRange = DiagnosticCode("OutOfRange")
    /// A value that has the right kind but not an accepted form (`012`, `1_000`, `5 minutes`, an id with capitals).
    package static let invalidValue = DiagnosticCode("InvalidValue")
    /// A name that refers to nothing: an activity, a policy, a script, a schema, a workflow.
    package static let unknownReference = DiagnosticCode("UnknownReference")
    /// Two activities (or workflows) with the same name.
    package static let duplicateName = DiagnosticCode("DuplicateName")
    /// The dependency graph has a cycle.
    package static let cycle = DiagnosticCode("Cycle")
    /// An activity has no body, or several.
    package static let activityBody = DiagnosticCode("ActivityBody")
    /// Keys that cannot be used together (`activities` and `saga.steps`, `trigger` and `triggers`…).
    package static let conflictingKeys = DiagnosticCode("ConflictingKeys")
    /// A compensation or fallback that nests further compensations or fallbacks.
    package static let nestedHandler = DiagnosticCode("NestedHandler")
    /// A `${ }` template that is not well formed.
    package static let badTemplate = DiagnosticCode("BadTemplate")
    /// Inline Lua or an expression that does not compile.
    package static let luaSyntax = DiagnosticCode("LuaSyntax")
    /// A referenced file (script, schema) that cannot be read or parsed.
    package static let badFile = DiagnosticCode("BadFile")
    /// A path that leaves the project directory.
    package static let pathEscapes = DiagnosticCode("PathEscapes")
}
