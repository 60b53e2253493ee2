import MoonflowModel
import MoonflowYAML
import Testing

/// One document per file, a mapping at its root; syntax errors with libyaml's words and our hints.
@Suite struct YAMLDocumentRuleTests {
    @Test(arguments: [
        ("", "w.yaml:1:1: error[EmptyDocument]: the file holds no YAML document: it is empty or only comments"),
        ("# only a comment\n\n   # and another\n", "w.yaml:1:1: error[EmptyDocument]: the file holds no YAML document: it is empty or only comments"),
        ("---\n", "w.yaml:2:1: error[EmptyDocument]: the document is empty"),
        ("--- # nothing here\n...\n", "w.yaml:2:1: error[EmptyDocument]: the document is empty"),
    ])
    func emptyFilesAreErrors(text: String, expected: String) {
        #expect(errors(text) == [expected])
    }

    @Test(arguments: [
        ("- a\n- b\n", "w.yaml:1:1: error[RootNotMapping]: the top level of the file must be a mapping of `key: value` lines, not a list"),
        ("hello\n", "w.yaml:1:1: error[RootNotMapping]: the top level of the file must be a mapping of `key: value` lines, not the string 'hello'"),
        ("# a number\n42\n", "w.yaml:2:1: error[RootNotMapping]: the top level of the file must be a mapping of `key: value` lines, not the number 42"),
        ("~\n", "w.yaml:1:1: error[RootNotMapping]: the top level of the file must be a mapping of `key: value` lines, not null"),
        ("--- \"\"\n", "w.yaml:1:5: error[RootNotMapping]: the top level of the file must be a mapping of `key: value` lines, not an empty string"),
    ])
    func rootMustBeAMapping(text: String, expected: String) {
        #expect(errors(text) == [expected])
    }

    @Test func rootNotMappingSaysWhatToDo() {
        #expect(onlyDiagnostic("- workflow: x\n")?.hint == "start the file with its keys, e.g. `workflow: my_flow`, without a leading `-`")
    }

    @Test func secondDocumentIsAnErrorAtItsMarker() {
        #expect(
            errors("workflow: a\n---\nworkflow: b\n") == [
                "w.yaml:2:1: error[MultipleDocuments]: a second YAML document starts here; a file holds exactly one"
            ])
        // An explicit first marker and an end marker are still one document.
        #expect(errors("---\nworkflow: a\n...\n# trailing comment\n") == [])
        #expect(
            errors("workflow: a\n...\n--- [b]\n") == [
                "w.yaml:3:1: error[MultipleDocuments]: a second YAML document starts here; a file holds exactly one"
            ])
    }

    @Test func parseDocumentsReadsAStream() throws {
        let documents = try YAMLParser.parseDocuments(Array("a: 1\n--- [x]\n--- 3\n".utf8), file: "s.yaml")
        #expect(try documents.map { try $0.toValue() } == [["a": 1], ["x"], 3])
        #expect(try YAMLParser.parseDocuments([], file: "s.yaml").isEmpty)
        // Anchors do not cross documents.
        #expect(throws: DiagnosticList.self) { try YAMLParser.parseDocuments(Array("--- &a x\n--- *a\n".utf8), file: "s.yaml") }
    }

    // MARK: - Syntax errors from libyaml

    @Test(arguments: [
        ("a: [1, 2\nb: 3\n",
         "w.yaml:2:2: error[YAMLSyntax]: did not find expected ',' or ']' (while parsing a flow sequence that starts at line 1, column 4)"),
        ("a: 'open\n",
         "w.yaml:2:1: error[YAMLSyntax]: found unexpected end of stream (while scanning a quoted scalar that starts at line 1, column 4)"),
        ("a: 1\n b: 2\n",
         "w.yaml:2:3: error[YAMLSyntax]: mapping values are not allowed in this context"),
        ("a:\n  - 1\n  b: 2\n",
         "w.yaml:3:3: error[YAMLSyntax]: did not find expected '-' indicator (while parsing a block collection that starts at line 2, column 3)"),
        ("a: 1\n\u{01}b: 2\n",
         "w.yaml:2:1: error[YAMLSyntax]: control characters are not allowed (U+0001)"),
    ])
    func syntaxErrorsKeepLibYAMLsWordsAndMark(text: String, expected: String) {
        #expect(errors(text) == [expected])
    }

    @Test func templateInFlowStyleGetsTheQuotingHint() throws {
        let diagnostic = try #require(onlyDiagnostic("with: {id: ${ input.id }}\n"))
        #expect(
            diagnostic.description
                == "w.yaml:1:13: error[YAMLSyntax]: did not find expected ',' or '}' (while parsing a flow mapping that starts at line 1, column 7)")
        #expect(diagnostic.hint == "inside `{…}` or `[…]` a template must be quoted: quote the template (`\"${ input.id }\"`) or use block style")

        let inList = try #require(onlyDiagnostic("needs: [${ x }]\n"))
        #expect(inList.hint == "inside `{…}` or `[…]` a template must be quoted: quote the template (`\"${ x }\"`) or use block style")
        // The hint names the template libyaml stopped at, not an earlier, quoted one.
        let second = try #require(onlyDiagnostic("with: {x: \"${ x }\", y: ${y}}\n"))
        #expect(second.hint == "inside `{…}` or `[…]` a template must be quoted: quote the template (`\"${y}\"`) or use block style")
        let multiLine = try #require(onlyDiagnostic("with: {\n  a: 1,\n  b: ${ input.b }\n}\n"))
        #expect(multiLine.description.hasPrefix("w.yaml:3:7: error[YAMLSyntax]"))
        #expect(multiLine.hint == "inside `{…}` or `[…]` a template must be quoted: quote the template (`\"${ input.b }\"`) or use block style")
        // The same template in block style is fine, and a quoted one in flow style too.
        #expect(try value("with:\n  id: ${ input.id }\n") == ["with": ["id": "${ input.id }"]])
        #expect(try value("with: {id: \"${ input.id }\"}\n") == ["with": ["id": "${ input.id }"]])
    }

    @Test func tabIndentationGetsAHelpfulHint() throws {
        let diagnostic = try #require(onlyDiagnostic("retry:\n\tmax_attempts: 3\n"))
        #expect(diagnostic.description == "w.yaml:2:1: error[YAMLSyntax]: found character that cannot start any token (while scanning for the next token)")
        #expect(diagnostic.hint == "YAML indents with spaces only: replace the tab characters at the start of this line with spaces")
        // Other syntax errors get no tab hint.
        #expect(onlyDiagnostic("a: 1\n b: 2\n")?.hint == nil)
        // A tab inside a block scalar's indentation gets it too.
        #expect(onlyDiagnostic("run: |\n  x = 1\n\t y = 2\n")?.hint == "YAML indents with spaces only: replace the tab characters at the start of this line with spaces")
    }
}
