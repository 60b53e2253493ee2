import ArgumentParser
import Foundation

/// Output format of commands that print a report, a list or an error.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

/// Options every command takes (docs/cli.md).
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The Moonflow project directory (holds workflows/, scripts/, schemas/).")
    var project: String = "."

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    /// The project directory as an absolute, standardised URL.
    var projectURL: URL {
        URL(fileURLWithPath: project, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL
    }
}

/// Exit codes of docs/cli.md.
enum MoonflowExit {
    /// The run did not complete, or the files are invalid.
    static let failure = ExitCode(1)
    /// Usage error or unknown workflow.
    static let usage = ExitCode(2)
    /// The run waits on a human or a timer and was left in the store.
    static let waiting = ExitCode(3)
}

/// Writes to standard error (diagnostics, warnings), keeping standard output for results.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
