package import MoonflowModel

/// Reads YAML text into `YAMLNode` trees with the rules of docs/workflow-format.md, on libyaml's event API.
///
/// Before libyaml sees a byte, the size limit, the encoding (UTF-8 only, a BOM allowed) and strict
/// UTF-8 are checked. Every error of the file is reported together where reading can go on
/// (duplicate keys, unknown aliases, bad tags, bad merges); a syntax error, an exceeded limit or
/// an encoding error ends the parse with what was found so far. A tree is returned only when the
/// file has no error.
package enum YAMLParser {
    /// A workflow or configuration file: exactly one document, whose root is a mapping.
    package static func parse(_ bytes: [UInt8], file: String, limits: YAMLLimits = .init()) throws(DiagnosticList) -> YAMLNode {
        var composer = try makeComposer(bytes, file: file, limits: limits)
        let root: YAMLNode
        var problems: [Diagnostic] = []
        do throws(Diagnostic) {
            guard try composer.nextDocumentStart() != nil else {
                throw Diagnostic(
                    .yamlEmptyDocument, "the file holds no YAML document: it is empty or only comments",
                    at: SourceLocation(file: file, line: 1, column: 1), hint: "write the file's keys, one `key: value` per line")
            }
            root = try composer.composeDocument()
            if let problem = rootProblem(root) { problems.append(problem) }
            if let second = try composer.nextDocumentStart() {
                problems.append(
                    Diagnostic(
                        .yamlMultipleDocuments, "a second YAML document starts here; a file holds exactly one", at: second,
                        hint: "remove the `---` line or move the second document to a file of its own"))
            }
        } catch {
            throw report(composer.diagnostics + [error])
        }
        let all = composer.diagnostics + problems
        guard all.isEmpty else { throw report(all) }
        return root
    }

    private static func rootProblem(_ root: YAMLNode) -> Diagnostic? {
        if case .scalar(let scalar) = root.content, scalar.text.isEmpty, scalar.style == .plain, root.tag == nil {
            return Diagnostic(.yamlEmptyDocument, "the document is empty", at: root.location, hint: "write the file's keys, one `key: value` per line")
        }
        guard root.mapping == nil else { return nil }
        return Diagnostic(
            .yamlRootNotMapping, "the top level of the file must be a mapping of `key: value` lines, not \(root.kindDescription)",
            at: root.location, hint: "start the file with its keys, e.g. `workflow: my_flow`, without a leading `-`")
    }

    /// Any number of documents with any roots (for tools and the conformance suite); an empty
    /// stream is an empty array.
    package static func parseDocuments(_ bytes: [UInt8], file: String, limits: YAMLLimits = .init()) throws(DiagnosticList) -> [YAMLNode] {
        var composer = try makeComposer(bytes, file: file, limits: limits)
        var documents: [YAMLNode] = []
        do throws(Diagnostic) {
            while try composer.nextDocumentStart() != nil {
                documents.append(try composer.composeDocument())
            }
        } catch {
            throw report(composer.diagnostics + [error])
        }
        guard composer.diagnostics.isEmpty else { throw report(composer.diagnostics) }
        return documents
    }

    /// The file's diagnostics in reading order (merge errors are found when their mapping ends).
    private static func report(_ diagnostics: [Diagnostic]) -> DiagnosticList {
        let ordered = diagnostics.enumerated().sorted {
            ($0.element.location.line, $0.element.location.column, $0.offset)
                < ($1.element.location.line, $1.element.location.column, $1.offset)
        }
        return DiagnosticList(ordered.map(\.element))
    }

    private static func makeComposer(_ bytes: [UInt8], file: String, limits: YAMLLimits) throws(DiagnosticList) -> YAMLComposer {
        let source = YAMLSource(file: file, bytes: bytes)
        do throws(Diagnostic) {
            try source.checkSize(limit: limits.maxFileSize)
            try source.checkEncoding()
            try source.checkUTF8()
        } catch {
            throw DiagnosticList([error])
        }
        return YAMLComposer(source: source, limits: limits)
    }
}
