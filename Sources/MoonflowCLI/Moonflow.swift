import ArgumentParser
import Foundation

@main
struct Moonflow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moonflow",
        abstract: "Workflows in YAML, code actions in Lua, every activity run reliably and visibly.",
        subcommands: [
            ValidateCommand.self, GraphCommand.self, RunCommand.self, ScriptCommand.self, EvalCommand.self,
            SchemaCommand.self, TestCommand.self, BenchCommand.self, RunsCommand.self, TasksCommand.self,
            ServeCommand.self,
        ]
    )

    /// Runs the command with docs/cli.md's exit codes: argument-parser reports usage errors as 64
    /// (EX_USAGE); Moonflow promises 2.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(MoonflowExit.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
