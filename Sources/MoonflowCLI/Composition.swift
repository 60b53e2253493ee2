import ArgumentParser
import Foundation
import MoonflowLoader
import MoonflowLua

/// The composition root: how the CLI assembles loader, sandbox and engine. Plain functions, so
/// tests and the server build the same objects.
enum Composition {
    static func loader(project: URL) -> ProjectLoader {
        ProjectLoader(projectDirectory: project, checker: LuaSyntaxChecker())
    }

    /// A workflow by id or path, or the exit docs/cli.md asks for: 2 when unknown, 1 when invalid.
    static func loadWorkflow(_ idOrPath: String, project: URL) throws -> LoadedWorkflow {
        do {
            return try loader(project: project).loadWorkflow(idOrPath)
        } catch {
            switch error {
            case .notFound:
                printError("error: \(error)")
                throw MoonflowExit.usage
            case .invalid(let result):
                printError(result.renderedDiagnostics())
                throw MoonflowExit.failure
            }
        }
    }
}
