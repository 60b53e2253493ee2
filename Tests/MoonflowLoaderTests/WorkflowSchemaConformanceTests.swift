import Foundation
import MoonflowLoader
import MoonflowModel
import MoonflowSchema
import MoonflowYAML
import Testing

/// `schemas/workflow.schema.json` (what editors use) and the loader must agree: every file the
/// loader accepts passes the schema, and the mistakes a schema can see are caught by both.
@Suite struct WorkflowSchemaConformanceTests {
    static let schema: JSONSchema = {
        let url = ExampleProjectTests.repository.appendingPathComponent("schemas/workflow.schema.json")
        let document = try! Value(json: [UInt8](FileManager.default.contents(atPath: url.path)!))
        return try! JSONSchema(document)
    }()

    static func yamlFiles(in folder: URL) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".yaml") && !$0.hasSuffix(".test.yaml") }.sorted()
            .map { folder.appendingPathComponent($0) }
    }

    static let validFiles =
        yamlFiles(in: ExampleProjectTests.repository.appendingPathComponent("workflows"))
        + yamlFiles(in: SeedShapeTests.project.appendingPathComponent("workflows"))
        + yamlFiles(in: SeedShapeTests.project.appendingPathComponent("pairs"))

    static func document(_ url: URL) throws -> Value {
        try YAMLParser.parse([UInt8](FileManager.default.contents(atPath: url.path)!), file: url.lastPathComponent).toValue()
    }

    @Test(arguments: validFiles)
    func everyValidWorkflowPassesTheSchema(file: URL) throws {
        let errors = Self.schema.validate(try Self.document(file))
        #expect(errors.isEmpty, "\(file.lastPathComponent): \(errors.map { $0.line() })")
    }

    /// The fixtures whose every mistake is of a kind a schema can detect (types, ranges, unknown
    /// keys, forms); reference and cycle errors need the loader.
    @Test(arguments: ["types", "structure"])
    func invalidFixturesFailTheSchemaToo(name: String) throws {
        let url = LoaderGoldenTests.fixtures.appendingPathComponent("invalid/\(name).yaml")
        #expect(!Self.schema.isValid(try Self.document(url)))
    }

    @Test(arguments: [
        "workflow: w\nactivities: [{name: a, call: noop, retry: {max_attemps: 3}}]\n",
        "workflow: w\nactivities: [{name: a, call: noop, retry: {max_attempts: 0}}]\n",
        "workflow: w\nactivities: [{name: a, call: noop, timeout: 30}]\n",
        "workflow: W\nactivities: [{name: a, call: noop}]\n",
        "activities: [{name: a, call: noop}]\n",
        "workflow: w\nactivities: [{name: a, call: noop, type: robot}]\n",
    ])
    func typicalMistakesFailBothTheSchemaAndTheLoader(yaml: String) throws {
        let project = try TemporaryProject(files: ["workflows/w.yaml": yaml])
        let url = project.url.appendingPathComponent("workflows/w.yaml")
        #expect(!Self.schema.isValid(try Self.document(url)))
        #expect(!MoonflowLoader.ProjectLoader(projectDirectory: project.url).loadProject().diagnostics.isEmpty)
    }
}
