import Foundation
import MoonflowLoader
import MoonflowModel
import MoonflowSchema
import MoonflowYAML
import Testing

/// `schemas/workflow-test.schema.json` (what editors use for `workflows/*.test.yaml`) and
/// `WorkflowTestLoader` must agree: every shipped test file passes the schema, and the mistakes a
/// schema can see are refused by both.
@Suite struct WorkflowTestSchemaConformanceTests {
    static let schema: JSONSchema = {
        let url = ExampleProjectTests.repository.appendingPathComponent("schemas/workflow-test.schema.json")
        let document = try! Value(json: [UInt8](FileManager.default.contents(atPath: url.path)!))
        return try! JSONSchema(document)
    }()

    static let shippedTestFiles: [URL] = {
        let folder = ExampleProjectTests.repository.appendingPathComponent("workflows")
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".test.yaml") }.sorted()
            .map { folder.appendingPathComponent($0) }
    }()

    static func document(_ url: URL) throws -> Value {
        try YAMLParser.parse([UInt8](FileManager.default.contents(atPath: url.path)!), file: url.lastPathComponent).toValue()
    }

    @Test func theExampleProjectShipsTestFiles() {
        #expect(Self.shippedTestFiles.count >= 2)
    }

    @Test(arguments: shippedTestFiles)
    func everyShippedTestFilePassesTheSchemaAndTheLoader(file: URL) throws {
        let errors = Self.schema.validate(try Self.document(file))
        #expect(errors.isEmpty, "\(file.lastPathComponent): \(errors.map { $0.line() })")
        guard case .success(let cases) = WorkflowTestLoader.load(file, displayName: file.lastPathComponent) else {
            Issue.record("\(file.lastPathComponent) does not load")
            return
        }
        #expect(!cases.isEmpty)
    }

    @Test func everyKeyTheLoaderReadsIsAccepted() throws {
        let yaml = """
            tests:
              - name: all keys
                input: {a: 1}
                mocks:
                  one: {output: {x: 1}}
                  two:
                    - error: Boom
                    - error: {type: Boom, message: again, retryable: false}
                    - output: 3
                      delay: 0s
                tasks:
                  approve: {data: {approved: true}, user: alice}
                expect:
                  status: completed
                  path: [one, two]
                  attempts: {two: 3}
                  statuses: {one: completed, two: completed_via_fallback}
                  compensations: []
                  output: {x: 1}
                  context: {}
                  error: Boom

            """
        try expectBoth(yaml, valid: true)
    }

    @Test(arguments: [
        "tests: []\n",
        "cases:\n  - name: a\n",
        "tests:\n  - input: {}\n",
        "tests:\n  - name: a\n    expect: {status: done}\n",
        "tests:\n  - name: a\n    expect: {stauts: completed}\n",
        "tests:\n  - name: a\n    mocks: {b: {output: 1, error: Boom}}\n",
        "tests:\n  - name: a\n    mocks: {b: {delay: 1s}}\n",
        "tests:\n  - name: a\n    mocks: {b: {output: 1, delay: 30}}\n",
        "tests:\n  - name: a\n    tasks: {approve: {user: alice}}\n",
        "tests:\n  - name: a\n    expect: {statuses: {b: finished}}\n",
    ])
    func typicalMistakesFailBothTheSchemaAndTheLoader(yaml: String) throws {
        try expectBoth(yaml, valid: false)
    }

    private func expectBoth(_ yaml: String, valid: Bool) throws {
        let project = try TemporaryProject(files: ["workflows/w.test.yaml": yaml])
        let url = project.url.appendingPathComponent("workflows/w.test.yaml")
        let errors = Self.schema.validate(try Self.document(url))
        #expect(errors.isEmpty == valid, "schema: \(errors.map { $0.line() })")
        let loaded: Bool
        switch WorkflowTestLoader.load(url, displayName: "w.test.yaml") {
        case .success: loaded = true
        case .failure: loaded = false
        }
        #expect(loaded == valid, "loader disagrees on:\n\(yaml)")
    }
}
