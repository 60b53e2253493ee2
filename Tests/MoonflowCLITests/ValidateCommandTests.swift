import Foundation
import MoonflowModel
import Testing

/// `moonflow validate` and `moonflow graph` through the built binary (docs/cli.md exit codes).
@Suite struct ValidateCommandTests {
    @Test func theShippedProjectIsValid() async throws {
        let result = try await CLIRunner.run(["validate"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        // moonflow.yaml is one of the files read.
        #expect(result.stdout == "6 files valid: hello, high_priority_ticket, inventory_reorder, lead_qualification, order_processing, moonflow.yaml\n")
    }

    @Test func jsonListsEveryErrorWithPositionAndExitsOne() async throws {
        let project = try CLIProject(files: [
            "workflows/bad.yaml": "workflow: bad\nactivities:\n  - name: a\n    call: nop\n    retry: {max_attempts: 0}\n",
            "workflows/good.yaml": "workflow: good\nactivities: [{name: a, call: noop}]\n",
        ])
        let result = try await CLIRunner.run(["validate", "--project", project.url.path, "--format", "json"])
        #expect(result.status == 1)
        let report = try Value(json: result.stdout)
        #expect(report["valid"] == false)
        #expect(report["files"] == ["workflows/bad.yaml", "workflows/good.yaml"])
        #expect(
            report["errors"] == [
                [
                    "file": "workflows/bad.yaml", "line": 4, "column": 11, "code": "InvalidValue",
                    "message": "'call' must be one of noop, log, emit, sleep, fail, set, http, not 'nop' — did you mean 'noop'?",
                ],
                [
                    "file": "workflows/bad.yaml", "line": 5, "column": 27, "code": "OutOfRange",
                    "message": "'max_attempts' must be between 1 and 1000, not 0",
                ],
            ])
    }

    @Test func textShowsCompilerStyleDiagnostics() async throws {
        let project = try CLIProject(files: ["workflows/w.yaml": "workflow: w\nactivities:\n  - name: a\n    call: noop\n    tiemout: 5s\n"])
        let result = try await CLIRunner.run(["validate", "--project", project.url.path])
        #expect(result.status == 1)
        #expect(
            result.stdout == """
                workflows/w.yaml:5:5: error[UnknownKey]: unknown key 'tiemout' in an activity — did you mean 'timeout'?
                  |
                5 |     tiemout: 5s
                  |     ^
                  = help: allowed keys: name, description, needs, after, run, script, call, type, workflow, with, params, when, timeout, total_timeout, retry, circuit_breaker, bulkhead, fallback, compensate, compensate_on_failure, input_schema, output_schema, priority, limits, assign, form, due, remind, on_timeout, notify, isolation

                1 error in 1 file

                """)
    }

    @Test func usageErrorsExitTwo() async throws {
        #expect(try await CLIRunner.run(["validate", "no/such/file.yaml"]).status == 2)
        #expect(try await CLIRunner.run(["validate", "--format", "xml"]).status == 2)
        let unknown = try await CLIRunner.run(["graph", "order_procesing"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no workflow 'order_procesing' in this project — did you mean 'order_processing'?"))
    }

    @Test func graphPrintsMermaidAndDot() async throws {
        let mermaid = try await CLIRunner.run(["graph", "hello"])
        #expect(mermaid.status == 0)
        #expect(mermaid.stdout.hasPrefix("flowchart TD\n"))
        #expect(mermaid.stdout.contains("a_greet --> a_sign"))
        let dot = try await CLIRunner.run(["graph", "workflows/hello.yaml", "--format", "dot"])
        #expect(dot.status == 0)
        #expect(dot.stdout.contains("\"greet\" -> \"sign\";"))
    }

    @Test func graphOfAnInvalidWorkflowExitsOneWithDiagnostics() async throws {
        let project = try CLIProject(files: ["workflows/w.yaml": "workflow: w\nactivities:\n  - name: a\n    needs: [a]\n    call: noop\n"])
        let result = try await CLIRunner.run(["graph", "w", "--project", project.url.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error[Cycle]: dependency cycle: 'a' needs 'a'"))
    }
}

/// A throwaway project for CLI tests.
final class CLIProject {
    let url: URL

    init(files: [String: String]) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-cli-\(UUID().uuidString)")
        for (path, text) in files {
            let file = url.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}
