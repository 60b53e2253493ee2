import ArgumentParser
import Foundation
import MoonflowLoader
import MoonflowModel
import MoonflowRuntime
import Synchronization

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

    /// Records the output format for `printError` (an error is then a JSON document on standard output).
    func validate() throws {
        CLIOutput.format = format
    }

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

/// The `--format` of the command running (set when its options are validated).
enum CLIOutput {
    private static let chosen = Mutex<OutputFormat>(.text)

    static var format: OutputFormat {
        get { chosen.withLock { $0 } }
        set { chosen.withLock { $0 = newValue } }
    }
}

/// Writes a message to standard error (diagnostics, warnings), keeping standard output for
/// results. Under `--format json` an error (a text starting `error`) is instead the document
/// `{"error": {"message": …}}` on standard output, which is what a program reading it parses;
/// under `logging.format: json` a message on standard error is one JSON log line, like the logs.
func printError(_ text: String) {
    let isError = text.hasPrefix("error")
    if isError, CLIOutput.format == .json {
        print(Value.object(["error": ["message": .string(text.hasPrefix("error: ") ? String(text.dropFirst(7)) : text)]]).jsonString())
        return
    }
    switch StandardErrorLog.format {
    case .json:
        StandardErrorLines.write(
            JSONLogHandler.line(at: Date(), level: isError ? .error : .notice, message: text, label: "moonflow", metadata: [:]))
    case .text:
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// Diagnostics that stop a command (invalid workflow, configuration or test file): rendered like a
/// compiler on standard error, or under `--format json` the error document with every diagnostic
/// as `validate --format json` lists them.
func printDiagnostics(_ result: ProjectLoadResult) {
    guard CLIOutput.format == .json else { return printError(result.renderedDiagnostics()) }
    let count = result.diagnostics.count
    print(
        Value.object([
            "error": ["message": .string("\(count) error\(count == 1 ? "" : "s") in the files"), "errors": .array(result.diagnosticValues)]
        ]).jsonString())
}

extension ProjectLoadResult {
    /// `{file, line, column, code, message}` of each diagnostic.
    var diagnosticValues: [Value] {
        diagnostics.map { d in
            [
                "file": .string(d.location.file), "line": .int(Int64(d.location.line)),
                "column": .int(Int64(d.location.column)), "code": .string(d.code.rawValue), "message": .string(d.message),
            ]
        }
    }
}
