import Foundation
import MoonflowModel
import Testing

/// What a compensation and a fallback see of the failure (docs/expressions.md, `error`: type, message,
/// attempts), and what a compensation's run leaves in the report and the history.
@Suite struct CompensationBindingTests {
    @Test func aCompensationSeesTheRunErrorAndItsOutputIsRecorded() async throws {
        let project = try CLIProject(files: [
            "workflows/w.yaml": """
                workflow: w
                activities:
                  - name: a
                    run: return {id = 1}
                    compensate:
                      run: return {undid = input.id, why = input.why, tries = input.tries}
                      with:
                        id: ${ output.id }
                        why: ${ error.type }
                        tries: ${ error.attempts }
                  - name: b
                    needs: [a, c]
                    retry: {max_attempts: 2, backoff: {initial: 1ms}}
                    run: error({type = "Boom", message = "no"})
                  - name: c
                    run: error({type = "Flaky", message = "down"})
                    retry: {max_attempts: 2, backoff: {initial: 1ms}}
                    fallback:
                      run: return {rescued = input.error.type, tries = input.error.attempts}

                """
        ])
        let result = try await CLIRunner.run(["run", "w", "--project", project.url.path, "--format", "json"])
        let report = try Value(json: result.stdout)
        #expect(report["status"] == "compensated", "\(result.stdout)\(result.stderr)")
        let compensation = report["compensations"]?.arrayValue?.first
        #expect(compensation?["output"] == ["undid": 1, "why": "Boom", "tries": 2])
        let c = report["activities"]?.arrayValue?.first { $0["name"] == "c" }
        #expect(c?["output"] == ["rescued": "Flaky", "tries": 2])
    }
}
