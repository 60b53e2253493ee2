import ArgumentParser
import Foundation
import Logging
import MoonflowEngine
import MoonflowLoader
import MoonflowModel
import MoonflowRuntime

/// `moonflow test WORKFLOW`: runs the cases of `workflows/<id>.test.yaml` with mocked activity
/// outcomes on a virtual clock, in memory, and checks what each run ended like.
struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run a workflow's test cases (workflows/<id>.test.yaml) on a virtual clock.",
        discussion: "Exit status: 0 every case passed, 1 a case failed or the files are invalid, 2 usage error.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A workflow id from workflows/, or a path to a workflow file.")
    var workflow: String

    func run() async throws {
        let config = try Composition.engineConfig(project: global.projectURL)
        let loaded = try Composition.loadWorkflow(workflow, project: global.projectURL, connections: Set(config.connections.keys))
        let testURL = WorkflowTestLoader.testFile(for: global.projectURL.appendingPathComponent(loaded.file))
        let testName = String(loaded.file.dropLast(URL(fileURLWithPath: loaded.file).pathExtension.count + 1)) + ".test.yaml"
        let cases: [WorkflowTestCase]
        switch WorkflowTestLoader.load(testURL, displayName: testName) {
        case .success(let c): cases = c
        case .failure(let problems):
            printDiagnostics(problems)
            throw MoonflowExit.failure
        }
        // The cases run on the test runner's own engine (virtual clock, in memory); the runtime
        // gives them the Lua runner, the schema validator and the catalog `moonflow run` has.
        // Their requests are answered by their `http:` mocks: no connection is made, so no
        // secret is read (a test runs where the secrets are not).
        var options = RuntimeOptions(
            project: global.projectURL, config: config, store: .memory,
            logger: Logger.escapedStandardError(label: "moonflow", level: .warning))
        options.offline = true
        let runtime = try await Composition.make(options)
        let runner = WorkflowTestRunner(
            runner: runtime.runner, validator: runtime.validator, catalog: runtime.catalog, resources: runtime.config.resources)
        var results: [WorkflowTestResult] = []
        for test in cases {
            results.append(await runner.run(test, workflow: loaded.workflow, definitionHash: loaded.contentHash))
        }
        switch global.format {
        case .json:
            let value: Value = [
                "workflow": .string(loaded.workflow.id), "passed": .int(Int64(results.filter(\.passed).count)),
                "failed": .int(Int64(results.filter { !$0.passed }.count)),
                "tests": .array(
                    results.map { r in
                        ["name": .string(r.name), "passed": .bool(r.passed), "failures": .array(r.failures.map(Value.string))]
                    }),
            ]
            print(value.jsonString(pretty: true))
        case .text:
            for result in results {
                print("\(result.passed ? "pass" : "FAIL")  \(result.name)")
                for failure in result.failures { print("      \(failure)") }
            }
            let failed = results.filter { !$0.passed }.count
            print("\n\(results.count - failed) passed, \(failed) failed")
        }
        if results.contains(where: { !$0.passed }) { throw MoonflowExit.failure }
    }
}
