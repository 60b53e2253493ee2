import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

/// The seed vocabulary of docs/workflow-format.md loads as written and means the same as the canonical form.
@Suite struct SeedShapeTests {
    static let project = LoaderGoldenTests.fixtures.appendingPathComponent("project")

    func load(_ file: String) throws -> Workflow {
        let result = ProjectLoader(projectDirectory: Self.project).load(files: [Self.project.appendingPathComponent(file)])
        #expect(result.diagnostics.isEmpty, "\(result.renderedDiagnostics())")
        return try #require(result.workflows.first).workflow
    }

    @Test func sagaStepsAndExecutionWrapperEqualTheCanonicalForm() throws {
        let seed = try load("pairs/seed_saga.yaml")
        let canonical = try load("pairs/canonical_saga.yaml")
        #expect(seed == canonical)
        #expect(seed.activities.map(\.name) == ["charge", "reserve"])
        #expect(seed.activities[1].dependencies == [Dependency("charge")])
        #expect(seed.errorHandling.strategy == .compensate)
        #expect(seed.triggers.first?.kind == .event(type: "order:created", conditions: ["channel": "web"]))
    }

    @Test func compensationMapParamsBodiesByNameAndInlinePoliciesEqualTheCanonicalForm() throws {
        let seed = try load("pairs/seed_ticket.yaml")
        let canonical = try load("pairs/canonical_ticket.yaml")
        #expect(seed == canonical)
        let reserve = try #require(seed.activity(named: "reserve"))
        #expect(reserve.circuitBreaker == CircuitBreakerPolicy(name: "ticket/reserve", threshold: 3, timeout: .seconds(5), reset: .seconds(30)))
        #expect(reserve.bulkhead == BulkheadPolicy(name: "ticket/reserve", maxConcurrent: 2, maxQueueSize: 5, timeout: .seconds(1), fallback: Fallback(.skip)))
        // A retry block without max_attempts means 3 (docs/resilience.md).
        #expect(seed.errorHandling.retry == RetryPolicy(maxAttempts: 3, initial: .seconds(2), multiplier: 3))
        #expect(seed.errorHandling.fallback == Fallback(.skip, notify: true))
        guard case .lua(let chunk) = seed.activity(named: "charge")?.compensate?.handler.body else {
            Issue.record("the compensation should run scripts/refund.lua")
            return
        }
        #expect(chunk.name == "scripts/refund.lua")
        #expect(chunk.source == "return {refunded = input.payment_id}\n")
    }

    @Test func edgesMergeIntoConditionalDependenciesAndSchemasLoadWithTheirReferences() throws {
        let result = ProjectLoader(projectDirectory: Self.project).loadProject()
        #expect(result.diagnostics.isEmpty, "\(result.renderedDiagnostics())")
        let loaded = try #require(result.workflow("diamond"))
        let join = try #require(loaded.workflow.activity(named: "join"))
        #expect(join.dependencies == [Dependency("left"), Dependency("right", when: Expression("steps.right.output.ok"))])
        #expect(loaded.workflow.input?.file == "schemas/payment.json")
        // The definition pins every file it uses, nested schema references included.
        #expect(Array(loaded.files.keys) == ["workflows/graph.yaml", "schemas/payment.json", "schemas/common.json"])
        guard case .manual(let task) = loaded.workflow.activity(named: "right")?.body else {
            Issue.record("right should be a manual task")
            return
        }
        #expect(task.users == ["alice"])
        #expect(task.due == .seconds(3600))
    }

    @Test func identicalContentGivesTheSameHashAndAnyChangeANewOne() throws {
        let files = [
            "workflows/w.yaml": "workflow: w\nactivities:\n  - name: a\n    script: s\n",
            "scripts/s.lua": "return 1\n",
        ]
        let a = try TemporaryProject(files: files)
        let b = try TemporaryProject(files: files)
        var changed = files
        changed["scripts/s.lua"] = "return 2\n"
        let c = try TemporaryProject(files: changed)
        let hash = { (p: TemporaryProject) in ProjectLoader(projectDirectory: p.url).loadProject().workflow("w")?.contentHash }
        #expect(hash(a) != nil)
        #expect(hash(a) == hash(b))
        #expect(hash(a) != hash(c))
    }

    @Test func scriptsOutsideTheProjectAreRefused() throws {
        let dir = try TemporaryProject(files: ["workflows/w.yaml": "workflow: w\nactivities:\n  - name: a\n    script: ../../etc/passwd.lua\n"])
        let result = ProjectLoader(projectDirectory: dir.url).loadProject()
        #expect(result.diagnostics.map(\.code) == [.pathEscapes])
    }

    @Test func duplicateWorkflowIdsAcrossFilesAreReported() throws {
        let dir = try TemporaryProject(files: [
            "workflows/a.yaml": "workflow: same\nactivities: [{name: a, call: noop}]\n",
            "workflows/b.yaml": "workflow: same\nactivities: [{name: a, call: noop}]\n",
        ])
        let result = ProjectLoader(projectDirectory: dir.url).loadProject()
        #expect(result.diagnostics.map(\.description) == ["workflows/b.yaml:1:1: error[DuplicateName]: workflow id 'same' is also used by workflows/a.yaml"])
    }
}
