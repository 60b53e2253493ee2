import ArgumentParser
import Foundation
import MoonflowLoader
import MoonflowModel
import MoonflowRuntime

/// `moonflow validate [PATH…]`: checks workflow files, or the whole project.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check workflow files (default: every file in the project's workflows/).",
        discussion: "Exit status: 0 valid, 1 invalid, 2 usage error. Every error of a file is reported at once.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Workflow files or folders to check (default: the project's workflows/).")
    var paths: [String] = []

    func run() throws {
        // The whole project includes its engine configuration, when it has one; workflows are
        // checked against its connections when it is valid.
        let configURL = global.projectURL.appendingPathComponent("moonflow.yaml")
        let hasConfig = FileManager.default.fileExists(atPath: configURL.path)
        let config = hasConfig ? EngineConfigLoader.load(configURL, displayName: "moonflow.yaml") : .success(EngineConfig())
        let connections: Set<String>? = if case .success(let loaded) = config { Set(loaded.connections.keys) } else { nil }
        let loader = Runtime.loader(project: global.projectURL, connections: connections)
        var files: [URL] = []
        for path in paths {
            let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                printError("error: no such file or folder: \(path)")
                throw MoonflowExit.usage
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
                files += names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { url.appendingPathComponent($0) }
            } else {
                files.append(url)
            }
        }
        var result = paths.isEmpty ? loader.loadProject() : loader.load(files: files)
        if paths.isEmpty, hasConfig {
            result.files.append("moonflow.yaml")
            if case .failure(let problems) = config {
                result.diagnostics += problems.diagnostics
                result.sources.merge(problems.sources) { current, _ in current }
            }
        }
        switch global.format {
        case .json:
            let report: Value = [
                "files": .array(result.files.map(Value.string)), "valid": .bool(result.isValid), "errors": .array(result.diagnosticValues),
            ]
            print(report.jsonString(pretty: true))
        case .text:
            if result.isValid {
                // The workflows by id, then moonflow.yaml when it was read: as many as the files counted.
                let names = result.workflows.map(\.workflow.id) + result.files.filter { $0 == "moonflow.yaml" }
                print("\(result.files.count) file\(result.files.count == 1 ? "" : "s") valid\(names.isEmpty ? "" : ": \(names.joined(separator: ", "))")")
            } else {
                print(result.renderedDiagnostics())
                let fileCount = Set(result.diagnostics.map(\.location.file)).count
                print("\n\(result.diagnostics.count) error\(result.diagnostics.count == 1 ? "" : "s") in \(fileCount) file\(fileCount == 1 ? "" : "s")")
            }
        }
        if !result.isValid { throw MoonflowExit.failure }
    }
}

/// `moonflow graph WORKFLOW`: the activity graph as Mermaid or DOT.
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "graph", abstract: "Print a workflow's activity graph.")

    enum GraphFormat: String, ExpressibleByArgument, CaseIterable { case mermaid, dot }

    @Option(name: .long, help: "The Moonflow project directory.")
    var project: String = "."

    @Option(name: .long, help: "mermaid or dot.")
    var format: GraphFormat = .mermaid

    @Argument(help: "A workflow id from workflows/, or a path to a workflow file.")
    var workflow: String

    func run() throws {
        let projectURL = URL(fileURLWithPath: project, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL
        let loaded = try Composition.loadWorkflow(workflow, project: projectURL)
        print(format == .mermaid ? WorkflowGraph.mermaid(loaded.workflow) : WorkflowGraph.dot(loaded.workflow), terminator: "")
    }
}
