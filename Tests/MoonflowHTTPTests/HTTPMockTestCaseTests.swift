import Foundation
import MoonflowModel
import Testing

/// `moonflow test` cases with `http:` mocks (docs/integrations.md, docs/testing.md): nothing reaches
/// the network, delays pass on the virtual clock, and an unmocked request fails the case.
@Suite struct HTTPMockTestCaseTests {
    @Test func mockedServicesAnswerBothBodiesAndAnUnmockedRequestIsNamed() async throws {
        // The connection points at a real service, which must never be reached.
        let stub = try await ServiceStub.start { _ in .json(#"{"real": true}"#) }
        defer { Task { await stub.stop() } }
        // Its secret is set nowhere: `moonflow test` needs none.
        let project = try HTTPProject(
            config: "secrets: {env_prefix: NEVER_SET_}\n" + HTTPActivityTests.config(stub, extra: #"    auth: {bearer: "${ secrets.TOKEN }"}"#),
            workflows: [
                "lead": """
                workflow: lead
                activities:
                  - name: create
                    call: http
                    with: {connection: crm, method: POST, path: /leads, json: "${ input }"}
                    timeout: 1h
                    retry: {max_attempts: 3, initial: 1s}
                  - name: enrich
                    needs: [create]
                    run: |
                      local answer = http.request{connection = "crm", path = "/leads/" .. steps.create.output.json.id}
                      return {status = answer.status, tier = answer.json and answer.json.tier}
                output: {id: "${ steps.create.output.json.id }", tier: "${ steps.enrich.output.tier }"}
                """
            ],
            files: [
                "workflows/lead.test.yaml": """
                tests:
                  - name: created after a 503, enriched after a slow answer
                    input: {name: Ada}
                    http:
                      - {connection: crm, method: POST, path: /leads, respond: {status: 503, headers: {Retry-After: "600"}}}
                      - {connection: crm, method: POST, path: /leads, respond: {status: 201, json: {id: 7}}}
                      - {connection: crm, path: /leads/7, respond: {json: {tier: gold}, delay: 30m}}
                    expect: {status: completed, attempts: {create: 2}, output: {id: 7, tier: gold}}
                  - name: the enrichment is not mocked
                    http:
                      - {connection: crm, method: post, path: leads, respond: {status: 201, json: {id: 8}}}
                    expect: {status: failed}
                """
            ])
        let start = ContinuousClock.now
        let result = try project.moonflow(["test", "lead"])
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(
            result.stdout == """
                pass  created after a 503, enriched after a slow answer
                FAIL  the enrichment is not mocked
                      unmocked HTTP request: GET crm /leads/8

                1 passed, 1 failed

                """)
        #expect(result.status == 1)
        #expect(stub.connections == 0)
    }
}
