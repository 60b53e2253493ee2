package import MoonflowModel

/// The codes of the YAML layer; docs/error-codes.md (section "YAML") explains each to users.
extension DiagnosticCode {
    /// The file is larger than `YAMLLimits.maxFileSize`; checked before parsing.
    package static let yamlFileTooLarge = DiagnosticCode("FileTooLarge")
    /// The file is UTF-16 or UTF-32; only UTF-8 (with or without a BOM) is read.
    package static let yamlUnsupportedEncoding = DiagnosticCode("UnsupportedEncoding")
    /// A byte that is not valid UTF-8.
    package static let yamlInvalidUTF8 = DiagnosticCode("InvalidUTF8")
    /// libyaml could not read the text (its problem and context, at its mark).
    package static let yamlSyntax = DiagnosticCode("YAMLSyntax")
    /// A second document in a file that must hold one.
    package static let yamlMultipleDocuments = DiagnosticCode("MultipleDocuments")
    /// An empty file, comments only, or a lone `---`.
    package static let yamlEmptyDocument = DiagnosticCode("EmptyDocument")
    /// The document's root is not a mapping.
    package static let yamlRootNotMapping = DiagnosticCode("RootNotMapping")
    /// Alias expansion would add more than `YAMLLimits.maxAliasExpansion` nodes.
    package static let yamlAliasLimitExceeded = DiagnosticCode("AliasLimitExceeded")
    /// `*name` with no `&name` before it.
    package static let yamlUnknownAlias = DiagnosticCode("UnknownAlias")
    /// Nesting deeper than `YAMLLimits.maxDepth`.
    package static let yamlDepthLimitExceeded = DiagnosticCode("DepthLimitExceeded")
    /// A key written twice in one mapping.
    package static let yamlDuplicateKey = DiagnosticCode("DuplicateKey")
    /// A `<<` merge key whose value is not a mapping or a list of mappings.
    package static let yamlInvalidMerge = DiagnosticCode("InvalidMerge")
    /// A core tag (`!!int`, `!!bool`, `!!map`…) on a node that does not fit it.
    package static let yamlBadTaggedValue = DiagnosticCode("BadTaggedValue")
    /// A mapping key that is a list or mapping where plain text is needed.
    package static let yamlComplexKey = DiagnosticCode("ComplexKey")
}
