import MoonflowModel
import MoonflowYAML
import Testing

/// Every node carries the 1-based line and column (in Unicode scalars) where it was written.
@Suite struct YAMLLocationTests {
    func at(_ line: Int, _ column: Int) -> MoonflowModel.SourceLocation {
        MoonflowModel.SourceLocation(file: "w.yaml", line: line, column: column)
    }

    @Test func blockNodesPointAtTheirFirstCharacter() throws {
        let root = try parse("# header\nworkflow: demo\nactivities:\n  - name: a\n    run: |\n      x = 1\n")
        #expect(root.location == at(2, 1))
        let pairs = try #require(root.mapping)
        #expect(pairs[0].key.location == at(2, 1))
        #expect(pairs[0].value.location == at(2, 11))
        let activities = try #require(pairs[1].value.sequence)
        #expect(pairs[1].value.location == at(4, 3))
        #expect(activities[0].location == at(4, 5))
        let activity = try #require(activities[0].mapping)
        #expect(activity[1].key.location == at(5, 5))
        #expect(activity[1].value.location == at(5, 10))
        #expect(activity[1].value.scalar == YAMLScalar("x = 1\n", style: .literal))
    }

    @Test func columnsCountCharactersNotBytes() throws {
        // libyaml's marks count characters: é (2 bytes), 日 (3 bytes) and 🚀 (4 bytes) are one column each.
        let root = try parse("é: [日, 🚀, x]\n")
        let pair = try #require(root.mapping?.first)
        #expect(pair.value.location == at(1, 4))
        #expect(pair.value.sequence?.map(\.location) == [at(1, 5), at(1, 8), at(1, 11)])
    }

    @Test func crlfLineEndsCountOnce() throws {
        let root = try parse("a: 1\r\nb: 2\r\n")
        #expect(root.mapping?[1].value.location == at(2, 4))
    }

    @Test func scalarStylesAreKept() throws {
        let root = try parse("a: plain\nb: 'single'\nc: \"double\"\nd: |\n  lit\ne: >\n  fold\n")
        #expect(root.mapping?.map(\.value.scalar?.style) == [.plain, .singleQuoted, .doubleQuoted, .literal, .folded])
    }

    @Test func locationsStayOutOfEquality() throws {
        let loaded = try parse("a: [1, x]\n", file: "one.yaml")
        let built = YAMLNode(
            .mapping([
                YAMLPair(
                    key: YAMLNode(.scalar(YAMLScalar("a")), location: .unknown),
                    value: YAMLNode(
                        .sequence([
                            YAMLNode(.scalar(YAMLScalar("1")), location: .unknown),
                            YAMLNode(.scalar(YAMLScalar("x")), location: .unknown),
                        ]), location: .unknown))
            ]), location: .unknown)
        #expect(loaded == built)
    }

    @Test func fileNameIsUsedAsGiven() {
        #expect(errors("a: 1\na: 2\n", file: "workflows/x.yaml") == [
            "workflows/x.yaml:2:1: error[DuplicateKey]: duplicate key 'a': it is already defined at line 1, column 1"
        ])
    }
}
