import MoonflowModel
import MoonflowYAML
import Testing

/// Parses a workflow-style file (one document, mapping root) from text.
func parse(_ text: String, file: String = "w.yaml", limits: YAMLLimits = .init()) throws(DiagnosticList) -> YAMLNode {
    try YAMLParser.parse(Array(text.utf8), file: file, limits: limits)
}

/// The diagnostics a file produces, as `file:line:col: error[CODE]: message` lines; empty when it parses.
func errors(_ text: String, file: String = "w.yaml", limits: YAMLLimits = .init()) -> [String] {
    errors(Array(text.utf8), file: file, limits: limits)
}

func errors(_ bytes: [UInt8], file: String = "w.yaml", limits: YAMLLimits = .init()) -> [String] {
    diagnostics(bytes, file: file, limits: limits).map(\.description)
}

func diagnostics(_ bytes: [UInt8], file: String = "w.yaml", limits: YAMLLimits = .init()) -> [Diagnostic] {
    do {
        _ = try YAMLParser.parse(bytes, file: file, limits: limits)
        return []
    } catch {
        return error.diagnostics
    }
}

/// The single diagnostic a file produces (nil, recorded as an issue, when there is not exactly one).
func onlyDiagnostic(_ text: String, file: String = "w.yaml", sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Diagnostic? {
    let found = diagnostics(Array(text.utf8), file: file)
    #expect(found.count == 1, "expected one diagnostic, got \(found.map(\.description))", sourceLocation: sourceLocation)
    return found.count == 1 ? found[0] : nil
}

/// The value of the root mapping (the whole file as data).
func value(_ text: String) throws -> Value {
    try parse(text).toValue()
}
