import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

/// Every loader rule has a fixture in `Fixtures/invalid/` and the exact diagnostics it must produce
/// in the `.expected` file beside it: file, line, column, code and message.
@Suite struct LoaderGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    @Test(arguments: ["types", "references", "structure", "templates"])
    func invalidFixtureProducesExactlyItsGoldenDiagnostics(name: String) throws {
        let loader = ProjectLoader(projectDirectory: Self.fixtures)
        let result = loader.load(files: [Self.fixtures.appendingPathComponent("invalid/\(name).yaml")])
        let expected = try String(contentsOf: Self.fixtures.appendingPathComponent("invalid/\(name).expected"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(result.diagnostics.map(\.description) == expected)
        #expect(result.workflows.isEmpty)
    }

    @Test func renderedDiagnosticShowsSourceLineAndCaret() {
        let loader = ProjectLoader(projectDirectory: Self.fixtures)
        let result = loader.load(files: [Self.fixtures.appendingPathComponent("invalid/types.yaml")])
        let rendered = result.diagnostics[0].rendered(source: result.sources["invalid/types.yaml"])
        #expect(
            rendered == """
                invalid/types.yaml:7:21: error[InvalidValue]: 'max_attempts': 012 has a leading zero
                  |
                7 |       max_attempts: 012
                  |                     ^
                  = help: YAML 1.1 would read 012 as an octal number; write 12 if that is what you mean
                """)
    }

    @Test func everyErrorHasAPositionInsideTheFile() throws {
        let loader = ProjectLoader(projectDirectory: Self.fixtures)
        for name in ["types", "references", "structure", "templates"] {
            let result = loader.load(files: [Self.fixtures.appendingPathComponent("invalid/\(name).yaml")])
            let lines = try String(contentsOf: Self.fixtures.appendingPathComponent("invalid/\(name).yaml"), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false)
            for d in result.diagnostics {
                #expect(d.location.line >= 1 && d.location.line <= lines.count, "\(d)")
                #expect(d.location.column >= 1 && d.location.column <= lines[d.location.line - 1].count + 1, "\(d)")
            }
        }
    }

    @Test func unclosedTemplateCutByAYAMLCommentGetsTheCommentHint() throws {
        let dir = try TemporaryProject(files: [
            "workflows/w.yaml": "workflow: w\nactivities:\n  - name: a\n    call: noop\n    when: ${ #input.items > 0 }\n"
        ])
        let result = ProjectLoader(projectDirectory: dir.url).loadProject()
        #expect(result.diagnostics.map(\.description) == ["workflows/w.yaml:5:11: error[BadTemplate]: '${' is not closed by a matching '}'"])
        #expect(result.diagnostics.first?.hint?.contains("' #' starts a comment") == true)
    }
}

/// A throwaway project directory, removed when the value goes away.
final class TemporaryProject {
    let url: URL

    init(files: [String: String]) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-test-\(UUID().uuidString)")
        for (path, text) in files {
            let file = url.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}
