import ArgumentParser
import Foundation
import Logging
import MoonflowEngine
import MoonflowLoader
import MoonflowLua
import MoonflowModel
import Synchronization

/// The composition root: how the CLI assembles loader, sandbox and engine. Plain functions, so
/// tests and the server build the same objects.
enum Composition {
    private static let loggingBootstrapped = Mutex(false)

    /// Sets the format of standard error's lines, and makes it the default of every logger made
    /// with `Logger(label:)` in this process (a library's included); swift-log allows one
    /// bootstrap a process, so only the first call bootstraps.
    static func bootstrapLogging(_ format: EngineConfig.LogFormat) {
        StandardErrorLog.format = format
        let first = loggingBootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first { LoggingSystem.bootstrap { StandardErrorLog.handler(label: $0) } }
    }

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
                printDiagnostics(result)
                throw MoonflowExit.failure
            }
        }
    }
}
