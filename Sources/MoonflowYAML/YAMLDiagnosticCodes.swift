import MoonflowModel

extension DiagnosticCode {
    public static let yamlComplexKey = DiagnosticCode("ComplexKey")
}
