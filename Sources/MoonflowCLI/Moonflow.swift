import ArgumentParser
import Foundation
import MoonflowLua

@main
struct Moonflow: AsyncParsableCommand {
    /// What `moonflow --version` prints after the name.
    static let version = "0.13.0"

    static let configuration = CommandConfiguration(
        commandName: "moonflow",
        abstract: "Workflows in YAML, code actions in Lua, every activity run reliably and visibly.",
        version: "moonflow \(version)",
        subcommands: [
            ValidateCommand.self, GraphCommand.self, RunCommand.self, ScriptCommand.self, EvalCommand.self,
            SchemaCommand.self, TestCommand.self, BenchCommand.self, RunsCommand.self, TasksCommand.self,
            DeadLettersCommand.self,
            ServeCommand.self, MockServicesCommand.self,
        ]
    )

    /// Runs the command with docs/cli.md's exit codes: argument-parser reports usage errors as 64
    /// (EX_USAGE); Moonflow promises 2.
    static func main() async {
        // The hidden subcommand the sandbox helpers run (docs/sandbox.md): before any parsing, so a
        // helper starts in a few milliseconds and owns this (main) thread for its scripts.
        if CommandLine.arguments.dropFirst().first == SandboxHelper.command {
            SandboxHelper.main(arguments: Array(CommandLine.arguments.dropFirst(2)))
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                printUsageError(fullMessage(for: error))
                Foundation.exit(MoonflowExit.usage.rawValue)
            }
            exit(withError: error)
        }
    }

    /// A usage error: under `--format json` (even when parsing stopped before the options were
    /// read) the `{"error": {...}}` document on standard output, like every other error.
    private static func printUsageError(_ message: String) {
        let arguments = CommandLine.arguments
        let json = arguments.contains("--format=json") || zip(arguments, arguments.dropFirst()).contains { $0 == "--format" && $1 == "json" }
        if json { CLIOutput.format = .json }
        printError(message.hasPrefix("Error: ") ? "error: " + message.dropFirst(7) : "error: " + message)
    }
}
