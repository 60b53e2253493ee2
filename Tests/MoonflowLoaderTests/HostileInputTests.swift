import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

/// Inputs an attacker or a hurried copy-paste produces: each gets a precise error, never a crash.
@Suite struct HostileInputTests {
    func diagnostics(_ files: [String: String]) throws -> [String] {
        let project = try TemporaryProject(files: files)
        return ProjectLoader(projectDirectory: project.url).loadProject().diagnostics.map(\.description)
    }

    @Test func childWorkflowsThatRunEachOtherAreACycle() throws {
        #expect(
            try diagnostics([
                "workflows/a.yaml": "workflow: a\nactivities: [{name: x, type: workflow, workflow: b}]\n",
                "workflows/b.yaml": "workflow: b\nactivities:\n  - name: y\n    type: workflow\n    workflow: a\n",
            ]) == ["workflows/a.yaml:2:50: error[Cycle]: child workflows call each other in a cycle: 'a' runs 'b' runs 'a'"])
        #expect(
            try diagnostics(["workflows/c.yaml": "workflow: c\nactivities: [{name: z, type: workflow, workflow: c}]\n"])
                == ["workflows/c.yaml:2:50: error[Cycle]: 'z' runs its own workflow 'c' as a child"])
    }

    @Test func aListOfNamesIsShortForNameOnlyActivities() throws {
        let project = try TemporaryProject(files: [
            "workflows/w.yaml": "workflow: w\nactivities: [fetch, store]\n",
            "scripts/fetch.lua": "return 1\n",
            "scripts/store.lua": "return 2\n",
        ])
        let result = ProjectLoader(projectDirectory: project.url).loadProject()
        #expect(result.diagnostics.isEmpty)
        #expect(result.workflow("w")?.workflow.activities.map(\.name) == ["fetch", "store"])
        #expect(result.workflow("w")?.workflow.activities[1].dependencies == [Dependency("fetch")])
    }

    @Test(arguments: [
        ("activities: []\n", "workflows/w.yaml:2:13: error[MissingKey]: 'activities' is empty"),
        ("activities: {a: 1}\n", "workflows/w.yaml:2:13: error[TypeMismatch]: 'activities' must be a list, not a mapping"),
        ("activities:\n  - [a]\n", "workflows/w.yaml:3:5: error[TypeMismatch]: an activity must be a mapping, not a list"),
        ("activities:\n  - name: null\n    call: noop\n", "workflows/w.yaml:3:11: error[TypeMismatch]: 'activity name' must be text, not null"),
        ("activities:\n  - name: a\n    call: noop\n    needs: {x: 1}\n", "workflows/w.yaml:5:12: error[TypeMismatch]: 'needs' must be a list, not a mapping"),
        ("activities:\n  - name: a\n    call: noop\n    max_attempts: 99999999999999999999999\n", "workflows/w.yaml:5:5: error[UnknownKey]: unknown key 'max_attempts' in an activity"),
        ("activities:\n  - name: a\n    call: noop\n    retry: {max_attempts: 99999999999999999999999}\n", "workflows/w.yaml:5:27: error[TypeMismatch]: 'max_attempts' must be a whole number, not the string '99999999999999999999999'"),
        ("activities:\n  - name: a\n    call: noop\n    when: yes\n", "workflows/w.yaml:5:11: error[BadTemplate]: 'when' must be one expression written as ${ … }"),
        ("activities:\n  - name: a\n    call: noop\nedges: [{from: a, to: a}]\n", "workflows/w.yaml:3:11: error[Cycle]: dependency cycle: 'a' needs 'a'"),
        ("activities:\n  - name: a\n    call: noop\n    input_schema: {$ref: ../../../../etc/passwd}\n", "workflows/w.yaml:5:26: error[PathEscapes]: the schema '/etc/passwd' is outside the project directory"),
        ("input: 5\nactivities: [{name: a, call: noop}]\n", "workflows/w.yaml:2:8: error[TypeMismatch]: 'input' must be a JSON Schema (a mapping, or {$ref: ../schemas/file.json}), not the number 5"),
    ])
    func malformedShapesGetOnePreciseError(body: String, expected: String) throws {
        #expect(try diagnostics(["workflows/w.yaml": "workflow: w\n" + body]) == [expected])
    }

    @Test func aSchemaFileWithBadJSONIsReportedInsideThatFile() throws {
        let result = try diagnostics([
            "workflows/w.yaml": "workflow: w\ninput: {$ref: ../schemas/s.json}\nactivities: [{name: a, call: noop}]\n",
            "schemas/s.json": "{\"type\": \"object\",\n \"properties\": {,}}\n",
        ])
        #expect(
            result == [
                "schemas/s.json:2:17: error[BadFile]: invalid JSON: expected a string key, found ','",
                "workflows/w.yaml:2:15: error[BadFile]: the schema schemas/s.json is not valid JSON",
            ])
    }

    @Test func tenThousandActivitiesInAChainLoadWithoutDeepRecursion() throws {
        var yaml = "workflow: long\nactivities:\n"
        for i in 0..<10_000 { yaml += "  - {name: a\(i), call: noop}\n" }
        let project = try TemporaryProject(files: ["workflows/long.yaml": yaml])
        let result = ProjectLoader(projectDirectory: project.url, limits: .init(maxFileSize: 4 << 20)).loadProject()
        #expect(result.diagnostics.isEmpty)
        #expect(result.workflow("long")?.workflow.activities.last?.dependencies == [Dependency("a9998")])
    }
}

@Suite struct ByteOrderMarkTests {
    @Test func aByteOrderMarkDoesNotShiftTheCaret() throws {
        let project = try TemporaryProject(files: ["workflows/w.yaml": "\u{FEFF}workflow: W\nactivities: [{name: a, call: noop}]\n"])
        let result = ProjectLoader(projectDirectory: project.url).loadProject()
        let rendered = try #require(result.diagnostics.first).rendered(source: result.sources["workflows/w.yaml"])
        #expect(rendered.hasPrefix("workflows/w.yaml:1:11: error[InvalidValue]: 'W' is not a valid workflow id"))
        #expect(rendered.contains("1 | workflow: W\n  |           ^"))
    }
}
