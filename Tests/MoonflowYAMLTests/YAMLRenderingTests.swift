import MoonflowModel
import MoonflowYAML
import Testing

/// Full compiler-style renderings: the first line, the source line, the caret, the hint.
@Suite struct YAMLRenderingTests {
    func rendered(_ text: String, file: String = "flows/w.yaml") -> String {
        diagnostics(Array(text.utf8), file: file).map { $0.rendered(source: text) }.joined(separator: "\n")
    }

    @Test func templateInFlowStyle() {
        let text = "workflow: demo\nwith: {id: ${ input.id }}\n"
        #expect(
            rendered(text) == """
                flows/w.yaml:2:13: error[YAMLSyntax]: did not find expected ',' or '}' (while parsing a flow mapping that starts at line 2, column 7)
                  |
                2 | with: {id: ${ input.id }}
                  |             ^
                  = help: inside `{…}` or `[…]` a template must be quoted: quote the template (`"${ input.id }"`) or use block style
                """)
    }

    @Test func duplicateKeysAfterMultiByteText() {
        let text = "été: 1\nnom: «x»\nété: 2\n"
        #expect(
            rendered(text) == """
                flows/w.yaml:3:1: error[DuplicateKey]: duplicate key 'été': it is already defined at line 1, column 1
                  |
                3 | été: 2
                  | ^
                  = help: remove one of them; a later key does not replace an earlier one
                """)
    }

    @Test func tabIndentationCaretStaysUnderTheTab() {
        let text = "retry:\n\tmax_attempts: 3\n"
        #expect(
            rendered(text) == """
                flows/w.yaml:2:1: error[YAMLSyntax]: found character that cannot start any token (while scanning for the next token)
                  |
                2 | \tmax_attempts: 3
                  | ^
                  = help: YAML indents with spaces only: replace the tab characters at the start of this line with spaces
                """)
    }

    @Test func invalidUTF8PointsAtTheByteWithColumnsInCharacters() {
        let bytes = Array("name: «ok»\nnote: ça".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        let source = String(decoding: bytes, as: UTF8.self)  // as an editor would show it
        let text = diagnostics(bytes, file: "flows/w.yaml").map { $0.rendered(source: source) }.joined(separator: "\n")
        #expect(
            text == """
                flows/w.yaml:2:9: error[InvalidUTF8]: invalid UTF-8 at byte offset 22: byte 0xC3 starts a 2-byte sequence that is cut short
                  |
                2 | note: ça\u{FFFD}(
                  |         ^
                  = help: save the file as UTF-8; Moonflow never guesses an encoding or replaces bytes
                """)
    }

    @Test func aliasBombOnALongLine() throws {
        let text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [*a, *a]\n"
        let found = diagnostics(Array(text.utf8), file: "flows/w.yaml", limits: YAMLLimits(maxAliasExpansion: 15))
        #expect(
            found.map { $0.rendered(source: text) } == [
                """
                flows/w.yaml:2:9: error[AliasLimitExceeded]: expanding the alias '*a' (10 nodes) takes the file past the limit of 15 nodes added by aliases
                  |
                2 | b: [*a, *a]
                  |         ^
                  = help: aliases are for reusing small blocks: write the data out or split it; a file that multiplies aliases like this is refused as an alias bomb
                """
            ])
    }
}
