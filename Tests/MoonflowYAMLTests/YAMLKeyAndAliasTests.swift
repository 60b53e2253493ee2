import MoonflowModel
import MoonflowYAML
import Testing

/// Duplicate keys, anchors and aliases, `<<` merge keys, and the locations they keep.
@Suite struct YAMLKeyAndAliasTests {
    // MARK: - Duplicate keys

    @Test func everyDuplicateKeyIsReportedAtItsSecondOccurrence() {
        let text = """
            name: a
            retry:
              max: 1
              max: 2
            name: b
            other: {x: 1, x: 2}

            """
        #expect(
            errors(text) == [
                "w.yaml:4:3: error[DuplicateKey]: duplicate key 'max': it is already defined at line 3, column 3",
                "w.yaml:5:1: error[DuplicateKey]: duplicate key 'name': it is already defined at line 1, column 1",
                "w.yaml:6:15: error[DuplicateKey]: duplicate key 'x': it is already defined at line 6, column 9",
            ])
    }

    @Test func keysAreComparedAsWrittenText() {
        // `"1"` and `1` would both become the key "1" in data: a duplicate.
        #expect(errors("1: a\n\"1\": b\n") == ["w.yaml:2:1: error[DuplicateKey]: duplicate key '1': it is already defined at line 1, column 1"])
        // Different texts are different keys, even when YAML 1.1 would read them alike.
        #expect(errors("yes: a\ntrue: b\n1: c\n1.0: d\n") == [])
    }

    @Test func duplicateKeyHintSaysLaterKeysDoNotOverride() {
        #expect(onlyDiagnostic("a: 1\na: 2\n")?.hint == "remove one of them; a later key does not replace an earlier one")
    }

    // MARK: - Aliases

    @Test func aliasesExpandToTheAnchoredNode() throws {
        let text = """
            defaults: &defaults
              timeout: 10s
              tags: [a, b]
            first: *defaults
            list: [&one 1, *one, *one]

            """
        #expect(
            try value(text) == [
                "defaults": ["timeout": "10s", "tags": ["a", "b"]],
                "first": ["timeout": "10s", "tags": ["a", "b"]],
                "list": [1, 1, 1],
            ])
    }

    @Test func expandedAliasIsLocatedAtTheAliasAndItsChildrenAtTheAnchor() throws {
        let root = try parse("base: &b\n  x: 1\nuse: *b\n")
        let use = try #require(root.mapping?[1].value)
        #expect(use.location == MoonflowModel.SourceLocation(file: "w.yaml", line: 3, column: 6))
        #expect(use.mapping?[0].value.location == MoonflowModel.SourceLocation(file: "w.yaml", line: 2, column: 6))
    }

    @Test func unknownAliasesAreAllReported() {
        #expect(
            errors("a: *nope\nb: [1, *gone]\n") == [
                "w.yaml:1:4: error[UnknownAlias]: unknown alias '*nope': no anchor '&nope' is defined before it in this document",
                "w.yaml:2:8: error[UnknownAlias]: unknown alias '*gone': no anchor '&gone' is defined before it in this document",
            ])
        // An alias before its anchor is unknown too.
        #expect(errors("a: *x\nb: &x 1\n") == ["w.yaml:1:4: error[UnknownAlias]: unknown alias '*x': no anchor '&x' is defined before it in this document"])
        // An unknown alias in a merge does not also cause a merge error.
        #expect(errors("a:\n  <<: *nope\n  b: 1\n") == ["w.yaml:2:7: error[UnknownAlias]: unknown alias '*nope': no anchor '&nope' is defined before it in this document"])
    }

    @Test func aliasInsideItsOwnAnchorIsExplained() {
        #expect(errors("a: &x [1, *x]\n") == ["w.yaml:1:11: error[UnknownAlias]: the alias '*x' refers to the node that contains it"])
    }

    @Test func aliasOfAScalarKeepsItsTypeAndTag() throws {
        #expect(try value("a: &n !!str 12\nb: *n\nc: &q '3'\nd: *q\n") == ["a": "12", "b": "12", "c": "3", "d": "3"])
    }

    @Test func redefinedAnchorAppliesFromThereOn() throws {
        #expect(try value("a: &x 1\nb: *x\nc: &x 2\nd: *x\n") == ["a": 1, "b": 1, "c": 2, "d": 2])
    }

    // MARK: - Merge keys

    @Test func mergeOfOneMapping() throws {
        let text = """
            base: &base {timeout: 10s, retries: 3}
            job:
              <<: *base
              name: build

            """
        let job = try #require(try value(text)["job"])
        #expect(job == ["timeout": "10s", "retries": 3, "name": "build"])
        // The merged keys take the place of `<<`, in the anchored mapping's order.
        #expect(job.objectValue.map { Array($0.keys) } == ["timeout", "retries", "name"])
    }

    @Test func explicitKeysOverrideMergedOnesWhereverTheyAreWritten() throws {
        let text = """
            base: &base {a: 1, b: 2, c: 3}
            before:
              b: explicit
              <<: *base
            after:
              <<: *base
              c: explicit

            """
        let data = try value(text)
        #expect(data["before"] == ["b": "explicit", "a": 1, "c": 3])
        #expect(data["after"] == ["a": 1, "b": 2, "c": "explicit"])
    }

    @Test func mergeOfAListEarlierMappingsWin() throws {
        let text = """
            one: &one {a: 1, b: 1}
            two: &two {b: 2, c: 2}
            job:
              <<: [*one, *two, {d: 4}]
              c: 3

            """
        let job = try #require(try value(text)["job"])
        #expect(job == ["a": 1, "b": 1, "c": 3, "d": 4])
        #expect(job.objectValue.map { Array($0.keys) } == ["a", "b", "d", "c"])
    }

    @Test func nestedMergesAreApplied() throws {
        let text = """
            root: &root {level: root, shared: root}
            middle: &middle
              <<: *root
              level: middle
            leaf:
              <<: *middle
              own: yes

            """
        #expect(try value(text)["leaf"] == ["level": "middle", "shared": "root", "own": "yes"])
    }

    @Test func mergedPairsKeepTheirOwnLocations() throws {
        let root = try parse("base: &b\n  x: 1\njob:\n  <<: *b\n  y: 2\n")
        let job = try #require(root.mapping?[1].value.mapping)
        #expect(job.map(\.key.scalar?.text) == ["x", "y"])
        #expect(job[0].key.location == MoonflowModel.SourceLocation(file: "w.yaml", line: 2, column: 3))
        #expect(job[1].key.location == MoonflowModel.SourceLocation(file: "w.yaml", line: 5, column: 3))
    }

    @Test func quotedOrTaggedLessLessIsAnOrdinaryKey() throws {
        #expect(try value("a: &a {x: 1}\nb:\n  \"<<\": *a\n") == ["a": ["x": 1], "b": ["<<": ["x": 1]]])
        #expect(try value("a: &a {x: 1}\nb:\n  !!merge <<: *a\n") == ["a": ["x": 1], "b": ["x": 1]])
    }

    @Test func mergingSomethingElseIsAnError() {
        #expect(
            errors("a:\n  <<: 5\n") == [
                "w.yaml:2:7: error[InvalidMerge]: `<<` merges a mapping or a list of mappings, not the number 5"
            ])
        #expect(
            errors("m: &m {x: 1}\na:\n  <<: [*m, plain, [1]]\n") == [
                "w.yaml:3:12: error[InvalidMerge]: a `<<` list holds only mappings, not the string 'plain'",
                "w.yaml:3:19: error[InvalidMerge]: a `<<` list holds only mappings, not a list",
            ])
        #expect(onlyDiagnostic("a:\n  <<: x\n")?.hint == "write `<<: *name` where `&name` anchors a mapping, or `<<: [*a, *b]`")
    }

    @Test func twoMergeKeysInOneMappingAreDuplicates() {
        #expect(
            errors("a: &a {x: 1}\nb: &b {y: 1}\nc:\n  <<: *a\n  <<: *b\n") == [
                "w.yaml:5:3: error[DuplicateKey]: duplicate key '<<': it is already defined at line 4, column 3"
            ])
    }

    // MARK: - All errors at once

    @Test func allRecoverableErrorsThenTheSyntaxErrorAreReportedTogether() {
        let text = """
            a: 1
            a: 2
            b: *missing
            c: !!int twelve
            d: [1, 2

            """
        #expect(
            errors(text) == [
                "w.yaml:2:1: error[DuplicateKey]: duplicate key 'a': it is already defined at line 1, column 1",
                "w.yaml:3:4: error[UnknownAlias]: unknown alias '*missing': no anchor '&missing' is defined before it in this document",
                "w.yaml:4:4: error[BadTaggedValue]: `!!int` needs a 64-bit integer such as 12, -3, 0x1F or 0o17 (no leading zeros or `_`), not 'twelve'",
                "w.yaml:6:1: error[YAMLSyntax]: did not find expected ',' or ']' (while parsing a flow sequence that starts at line 5, column 4)",
            ])
    }
}
