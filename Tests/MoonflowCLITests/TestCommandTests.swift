import Foundation
import MoonflowModel
import Testing

/// `moonflow test`: the shipped example cases pass, and wrong expectations are reported.
@Suite struct TestCommandTests {
    @Test(arguments: ["order_processing", "high_priority_ticket"])
    func theShippedTestCasesPass(workflow: String) async throws {
        let result = try await CLIRunner.run(["test", workflow, "--format", "json"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let report = try Value(json: result.stdout)
        #expect(report["failed"] == 0)
        #expect((report["passed"]?.intValue ?? 0) >= 2)
    }

    @Test func wrongExpectationsAndMocksOfUnknownActivitiesFailWithReasons() async throws {
        let project = try CLIProject(files: [
            "workflows/w.yaml": "workflow: w\nactivities:\n  - name: a\n    run: return 1\n    retry: {max_attempts: 3, backoff: {initial: 10m}}\n",
            "workflows/w.test.yaml": """
                tests:
                  - name: retried after ten virtual minutes
                    mocks:
                      a: [{error: Flaky}, {output: 7}]
                    expect: {status: completed, attempts: {a: 2}, output: 7}
                  - name: wrong on purpose
                    mocks:
                      b: [{output: 1}]
                      a: [{error: {type: Down, retryable: false}}]
                    expect: {status: completed}

                """,
        ])
        let result = try await CLIRunner.run(["test", "w", "--project", project.url.path])
        #expect(result.status == 1)
        #expect(
            result.stdout == """
                pass  retried after ten virtual minutes
                FAIL  wrong on purpose
                      mocks 'b': 'b' is not an activity of w

                1 passed, 1 failed

                """)
    }

    @Test func aMalformedTestFileIsReportedWithPositions() async throws {
        let project = try CLIProject(files: [
            "workflows/w.yaml": "workflow: w\nactivities: [{name: a, call: noop}]\n",
            "workflows/w.test.yaml": "tests:\n  - name: x\n    expect: {status: done}\n",
        ])
        let result = try await CLIRunner.run(["test", "w", "--project", project.url.path])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("workflows/w.test.yaml:3:22: error[InvalidValue]: 'status' must be one of completed"))
        // Test files are not workflows: validate ignores them.
        #expect(try await CLIRunner.run(["validate", "--project", project.url.path]).status == 0)
    }
}
