import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

/// Where code actions run (docs/sandbox.md, "The second wall"): `resources.isolation` in
/// moonflow.yaml, `isolation:` of a workflow (its activities' default) and of an activity.
@Suite struct IsolationConfigTests {
    @Test func moonflowYamlSetsTheEngineDefault() throws {
        let project = try TemporaryProject(files: ["moonflow.yaml": "resources: {isolation: process}\n"])
        let config = try EngineConfigLoader.load(project.url.appendingPathComponent("moonflow.yaml")).get()
        #expect(config.resources.isolation == .process)
        #expect(EngineConfig().resources.isolation == .inProcess)
    }

    @Test func anUnknownValueIsRefusedWhereItIsWritten() throws {
        let project = try TemporaryProject(files: ["moonflow.yaml": "resources: {isolation: sandboxed}\n"])
        guard case .failure(let problems) = EngineConfigLoader.load(project.url.appendingPathComponent("moonflow.yaml")) else {
            Issue.record("an unknown isolation must be refused")
            return
        }
        #expect(problems.diagnostics.count == 1)
        #expect(
            problems.diagnostics.first?.description.hasPrefix(
                "moonflow.yaml:1:24: error[InvalidValue]: 'isolation' must be one of in_process, process, not 'sandboxed'") == true,
            "\(problems.diagnostics)")

        let workflow = try TemporaryProject(files: [
            "workflows/w.yaml": "workflow: w\nactivities:\n  - {name: a, run: 'return 1', isolation: proces}\n",
        ])
        let diagnostics = ProjectLoader(projectDirectory: workflow.url).loadProject().diagnostics
        #expect(diagnostics.map(\.description).contains { $0.hasPrefix("workflows/w.yaml:3:43: error[InvalidValue]: 'isolation' must be one of") && $0.contains("did you mean 'process'?") }, "\(diagnostics)")
    }

    @Test func anActivityOverridesItsWorkflowWhichOverridesTheEngine() throws {
        let project = try TemporaryProject(files: [
            "workflows/w.yaml": """
                workflow: w
                isolation: process
                activities:
                  - {name: a, run: 'return 1'}
                  - {name: b, run: 'return 2', isolation: in_process}
                """,
            "workflows/v.yaml": "workflow: v\nactivities:\n  - {name: c, run: 'return 3'}\n",
        ])
        let result = ProjectLoader(projectDirectory: project.url).loadProject()
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let w = try #require(result.workflow("w")?.workflow)
        #expect(w.activities.map(\.limits.isolation) == [.process, .inProcess])
        #expect(try #require(result.workflow("v")).workflow.activities[0].limits.isolation == nil)
        // Applied over the engine's limits, as the engine does for each attempt.
        var engine = ScriptLimits.defaults
        engine.isolation = .process
        #expect(LimitOverrides().applied(to: engine).isolation == .process)
        #expect(w.activities[1].limits.applied(to: engine).isolation == .inProcess)
    }
}
