import MoonflowModel

/// What reading a workflow needs from outside the file: scripts, schemas and syntax checking.
/// The project loader implements it over the file system; tests can give fixed answers.
protocol LoadEnvironment {
    /// Loads a script by name (`scripts/<name>.lua`) or by a path relative to the workflow file.
    /// Returns the chunk or a message saying what is wrong.
    func script(_ nameOrPath: String) -> Result<ScriptChunk, LoadEnvironmentError>
    /// Whether `scripts/<name>.lua` exists (an activity without a body runs it).
    func scriptExists(named name: String) -> Bool
    /// Loads a JSON Schema file referenced with `$ref` relative to the workflow file.
    func schema(_ reference: String) -> Result<SchemaDefinition, LoadEnvironmentError>
    var checker: (any ScriptChecking)? { get }
    /// Whether schemas are checked for catastrophic patterns (`SchemaPatternCheck`): for files
    /// read from the project, not for the texts a run pinned before.
    var checksPatternShapes: Bool { get }
}

struct LoadEnvironmentError: Error {
    var code: DiagnosticCode
    var message: String
    var hint: String?
    /// A diagnostic inside the referenced file itself (a JSON error in a schema).
    var inner: Diagnostic?
}
