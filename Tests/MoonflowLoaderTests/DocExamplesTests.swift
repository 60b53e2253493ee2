import Foundation
import MoonflowLoader
import MoonflowModel
import MoonflowSchema
import MoonflowYAML
import Testing

/// The YAML examples of the user's reference (`README.md`, `docs/*.md`) load as written: every
/// block that is a whole workflow file, `moonflow.yaml` or test file is read by the same loader as
/// the example project's files, beside its scripts and schemas. (The shell examples are run by
/// `.ci/doc-examples`, which `make test` calls.)
@Suite struct DocExamplesTests {
    struct Block: CustomTestStringConvertible, Sendable {
        var page: String
        var line: Int
        var text: String
        var testDescription: String { "\(page):\(line)" }
    }

    /// The fenced ```yaml blocks of a page, with the line of each block's first line.
    static func yamlBlocks(_ page: String) -> [Block] {
        let url = ExampleProjectTests.repository.appendingPathComponent(page)
        let lines = (try? String(contentsOf: url, encoding: .utf8))?.components(separatedBy: "\n") ?? []
        var blocks: [Block] = []
        var current: [String]?
        var start = 0
        for (index, line) in lines.enumerated() {
            if current == nil, line == "```yaml" {
                current = []
                start = index + 2
            } else if current != nil, line == "```" {
                blocks.append(Block(page: page, line: start, text: current!.joined(separator: "\n") + "\n"))
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        return blocks
    }

    static let pages = ["README.md", "docs/workflow-format.md", "docs/expressions.md", "docs/cli.md", "docs/api.md", "docs/testing.md"]
    static let blocks = pages.flatMap(yamlBlocks)
    static func starts(_ block: Block, with key: String) -> Bool {
        block.text.components(separatedBy: "\n").contains { $0.hasPrefix(key) }
    }
    static let workflows = blocks.filter { starts($0, with: "workflow: ") }
    static let configs = blocks.filter { starts($0, with: "concurrency: ") && !starts($0, with: "workflow: ") }
    static let testFiles = blocks.filter { starts($0, with: "tests:") }

    /// The example project's scripts and schemas, so examples may name them.
    static func projectFiles() throws -> [String: String] {
        var files: [String: String] = [:]
        for folder in ["scripts", "schemas"] {
            let url = ExampleProjectTests.repository.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: url.path) {
                files["\(folder)/\(name)"] = try String(contentsOf: url.appendingPathComponent(name), encoding: .utf8)
            }
        }
        return files
    }

    @Test func thePagesHoldTheExamplesThisSuiteChecks() {
        #expect(Self.workflows.count >= 3)
        #expect(Self.configs.count >= 1)
        #expect(Self.testFiles.count >= 1)
    }

    @Test(arguments: workflows)
    func everyWorkflowExampleValidates(block: Block) throws {
        var files = try Self.projectFiles()
        files["workflows/example.yaml"] = block.text
        let project = try TemporaryProject(files: files)
        let result = ProjectLoader(projectDirectory: project.url).loadProject()
        #expect(result.diagnostics.isEmpty, "\(block.testDescription): \(result.diagnostics.map { "\($0)" })")
        #expect(result.workflows.count == 1)
    }

    @Test(arguments: configs)
    func everyEngineConfigurationExampleLoads(block: Block) throws {
        let project = try TemporaryProject(files: ["moonflow.yaml": block.text])
        let result = EngineConfigLoader.load(
            project.url.appendingPathComponent("moonflow.yaml"), environment: ["MOONFLOW_ADMIN_TOKEN": "an-admin-token-long-enough"])
        guard case .success = result else {
            Issue.record("\(block.testDescription) does not load: \(result)")
            return
        }
    }

    @Test(arguments: testFiles)
    func everyTestFileExampleLoadsAndPassesItsSchema(block: Block) throws {
        let project = try TemporaryProject(files: ["workflows/example.test.yaml": block.text])
        let url = project.url.appendingPathComponent("workflows/example.test.yaml")
        guard case .success = WorkflowTestLoader.load(url, displayName: "example.test.yaml") else {
            Issue.record("\(block.testDescription) does not load")
            return
        }
        let document = try YAMLParser.parse(Array(block.text.utf8), file: "example.test.yaml").toValue()
        let errors = WorkflowTestSchemaConformanceTests.schema.validate(document)
        #expect(errors.isEmpty, "\(block.testDescription): \(errors.map { $0.line() })")
    }
}
