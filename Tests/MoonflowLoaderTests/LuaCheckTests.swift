import Foundation
import MoonflowLoader
import MoonflowLua
import MoonflowModel
import Testing

/// Inline Lua, scripts and `${ }` expressions are compiled at load time through the
/// `ScriptChecking` seam; errors point at the YAML line of the Lua line.
@Suite struct LuaCheckTests {
    @Test func syntaxErrorsAreLoadErrorsAtTheYAMLLine() {
        let project = LoaderGoldenTests.fixtures.appendingPathComponent("lua")
        let result = ProjectLoader(projectDirectory: project, checker: LuaSyntaxChecker()).loadProject()
        #expect(
            result.diagnostics.map(\.description) == [
                "workflows/w.yaml:8:7: error[LuaSyntax]: unexpected symbol near 'end'",
                "workflows/w.yaml:10:10: error[LuaSyntax]: ')' expected near <eof>",
                "workflows/w.yaml:13:10: error[LuaSyntax]: in ${ input.x + }: unexpected symbol near ')'",
                "workflows/w.yaml:15:13: error[LuaSyntax]: scripts/broken.lua:2: unexpected symbol near 'return'",
                "workflows/w.yaml:18:11: error[LuaSyntax]: in ${ steps.a.output == = 1 }: unexpected symbol near '='",
            ])
    }

    @Test func withoutACheckerTheSameFileLoads() {
        let project = LoaderGoldenTests.fixtures.appendingPathComponent("lua")
        let result = ProjectLoader(projectDirectory: project).loadProject()
        #expect(result.diagnostics.isEmpty)
    }

    @Test func theShippedExamplesCompile() {
        let result = ProjectLoader(projectDirectory: ExampleProjectTests.repository, checker: LuaSyntaxChecker()).loadProject()
        #expect(result.diagnostics.isEmpty, "\(result.renderedDiagnostics())")
    }
}
