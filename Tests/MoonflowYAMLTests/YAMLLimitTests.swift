import MoonflowModel
import MoonflowYAML
import Testing

/// Hostile files are refused with the right code, early, and without deep recursion.
/// (Timings are measured outside the tests and reported, never asserted here.)
@Suite struct YAMLLimitTests {
    static let billionLaughs = """
        # The classic alias bomb: 9 levels of 9 aliases each would expand to 9^9 (387,420,489) strings.
        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]

        """

    @Test func billionLaughsFailsAtTheAliasThatCrossesTheBudget() throws {
        // Sizes per anchor: a = 10 nodes, b = 1 + 9·10 = 91, c = 1 + 9·91 = 820, d = 1 + 9·820 = 7,381.
        // The aliases in b, c and d add 90 + 819 + 7,380 = 8,289 nodes; the first *d in e crosses 10,000.
        let found = diagnostics(Array(Self.billionLaughs.utf8), file: "bomb.yaml")
        #expect(
            found.map(\.description) == [
                "bomb.yaml:6:8: error[AliasLimitExceeded]: expanding the alias '*d' (7381 nodes) takes the file past the limit of 10000 nodes added by aliases"
            ])
        #expect(found.first?.hint?.contains("alias bomb") == true)
    }

    @Test func aliasBudgetCountsNodesNotAliases() throws {
        // 3 aliases of a 4-node list add 12 nodes.
        let text = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n"
        #expect(throws: Never.self) { try parse(text, limits: YAMLLimits(maxAliasExpansion: 12)) }
        #expect(
            errors(text, limits: YAMLLimits(maxAliasExpansion: 11)) == [
                "w.yaml:2:13: error[AliasLimitExceeded]: expanding the alias '*a' (4 nodes) takes the file past the limit of 11 nodes added by aliases"
            ])
    }

    @Test func mergeKeysAreChargedToTheBudget() {
        let text = "a: &a {x: 1, y: 2}\nb:\n  <<: *a\nc:\n  <<: *a\n"
        // Each `*a` costs the 5 nodes of {x: 1, y: 2}.
        #expect(errors(text, limits: YAMLLimits(maxAliasExpansion: 10)) == [])
        #expect(
            errors(text, limits: YAMLLimits(maxAliasExpansion: 9)) == [
                "w.yaml:5:7: error[AliasLimitExceeded]: expanding the alias '*a' (5 nodes) takes the file past the limit of 9 nodes added by aliases"
            ])
    }

    // MARK: - Depth

    @Test func depthLimitCountsCollections() {
        // Root mapping (1) → list (2) → mapping (3); scalars add nothing.
        let text = "a:\n  - b: x\n"
        #expect(errors(text, limits: YAMLLimits(maxDepth: 3)) == [])
        #expect(
            errors(text, limits: YAMLLimits(maxDepth: 2)) == [
                "w.yaml:2:5: error[DepthLimitExceeded]: a mapping here is nested 3 levels deep, more than the limit of 2"
            ])
    }

    @Test func deepFlowSequenceStopsAtTheLimit() {
        let text = "a: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n"
        #expect(
            errors(text) == [
                "w.yaml:1:67: error[DepthLimitExceeded]: a list here is nested 65 levels deep, more than the limit of 64"
            ])
    }

    @Test func deepFlowSequenceIsRefusedEvenWhenUnclosed() {
        // The limit fires before libyaml would find the syntax error at the end.
        let text = String(repeating: "[", count: 10_000)
        #expect(errors(text).map { $0.contains("error[DepthLimitExceeded]") } == [true])
    }

    @Test func deepBlockSequencesStopAtTheLimit() {
        let text = "a:\n" + String(repeating: "- ", count: 10_000) + "x\n"
        #expect(
            errors(text) == [
                "w.yaml:2:127: error[DepthLimitExceeded]: a list here is nested 65 levels deep, more than the limit of 64"
            ])
    }

    @Test func deepBlockMappingsStopAtTheLimit() {
        // 10,000 levels of indentation need ~50 MB, so lift the size limit to test the depth limit.
        // Line n (from 0) is n spaces and `k:`.
        var bytes = [UInt8](repeating: UInt8(ascii: " "), count: 10_000 * 9_999 / 2 + 3 * 10_000)
        var offset = 0
        for level in 0..<10_000 {
            offset += level
            bytes.replaceSubrange(offset..<offset + 3, with: "k:\n".utf8)
            offset += 3
        }
        #expect(
            errors(bytes, limits: YAMLLimits(maxFileSize: 64 << 20)) == [
                "w.yaml:65:65: error[DepthLimitExceeded]: a mapping here is nested 65 levels deep, more than the limit of 64"
            ])
    }

    @Test func deepBlockMappingsWithinTheDefaultSizeLimit() {
        var text = ""
        for level in 0..<1_000 { text += String(repeating: " ", count: level) + "k:\n" }
        #expect(text.utf8.count < 1_048_576)
        #expect(errors(text).map { $0.contains("error[DepthLimitExceeded]") } == [true])
    }

    @Test func deepFlowMappingsStopAtTheLimit() {
        let text = "a: " + String(repeating: "{a: ", count: 10_000) + "1" + String(repeating: "}", count: 10_000) + "\n"
        #expect(errors(text).map { $0.contains("error[DepthLimitExceeded]") } == [true])
    }

    @Test func aliasExpansionCannotExceedTheDepthLimit() {
        let text = "deep: &d [[[x]]]\nuse: [[*d]]\n"  // *d has 3 levels, placed 3 deep → 6
        #expect(errors(text, limits: YAMLLimits(maxDepth: 6)) == [])
        #expect(
            errors(text, limits: YAMLLimits(maxDepth: 5)) == [
                "w.yaml:2:8: error[DepthLimitExceeded]: the alias '*d' expanded here is nested 6 levels deep, more than the limit of 5"
            ])
    }

    @Test func treeAtTheDepthLimitConvertsComparesAndHashes() throws {
        let text = "a: " + String(repeating: "[", count: 63) + "1" + String(repeating: "]", count: 63) + "\n"
        let first = try parse(text)
        let second = try parse("\n" + text)
        #expect(first == second)  // locations differ, content does not
        #expect(first.hashValue == second.hashValue)
        #expect(try first.toValue() == second.toValue())
    }
}
