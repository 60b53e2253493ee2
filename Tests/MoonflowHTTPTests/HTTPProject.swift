import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime

/// A project whose moonflow.yaml has connections to stub services, and a runtime over it.
final class HTTPProject: Sendable {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-http-\(UUID().uuidString)")
    static let quiet = Logger(label: "http-test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// `config` is moonflow.yaml; `workflows` are files under workflows/ by id.
    init(config: String, workflows: [String: String], files: [String: String] = [:]) throws {
        try write("moonflow.yaml", config)
        for (id, text) in workflows { try write("workflows/\(id).yaml", text) }
        for (path, text) in files { try write(path, text) }
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ path: String, _ text: String) throws {
        let file = url.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
    }

    func runtime(store: StoreSelection = .memory, environment: [String: String] = [:], logger: Logger = HTTPProject.quiet) throws -> Runtime {
        let config = try Runtime.configuration(project: url).get()
        return try Runtime.make(RuntimeOptions(project: url, config: config, store: store, logger: logger, environment: environment))
    }

    /// The built `moonflow` (next to the test bundle) run in the project, with `failpoints` when
    /// given: its exit status and standard output.
    func moonflow(_ arguments: [String], failpoints: String? = nil) throws -> (status: Int32, stdout: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("moonflow")
        process.arguments = arguments + ["--project", url.path]
        var environment = ProcessInfo.processInfo.environment
        environment["MOONFLOW_FAILPOINTS"] = failpoints
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self))
    }

    /// Starts `workflow` with `input` and drives it until it settles.
    func run(_ workflow: String, input: Value = [:], on runtime: Runtime) async throws -> ExecutionReport {
        let loaded = try runtime.loader.loadWorkflow(workflow)
        let id = try await runtime.engine.start(loaded.pinned, input: input)
        return try await runtime.driveUntilSettled(id)
    }
}

/// Whether a test holds a timeout to within 10% (`MOONFLOW_TIMING_TESTS=1`, which `make test` sets
/// running those tests alone). In the whole suite, tests that block the cooperative pool with
/// child processes delay every timer of this process by seconds: there a timeout is only checked
/// to have ended the attempt, as `Timeout`.
enum TimingTests {
    static let strict = ProcessInfo.processInfo.environment["MOONFLOW_TIMING_TESTS"] == "1"

    /// The attempt took `milliseconds`, for a timeout of `limit` ms: within 10% above it.
    static func onTime(_ milliseconds: Int64?, limit: Int64) -> Bool {
        guard strict else { return true }
        guard let milliseconds else { return false }
        return milliseconds >= limit && milliseconds < limit + limit / 10
    }
}

extension ExecutionReport {
    func activity(_ name: String) -> ActivityEntry? { activities.first { $0.name == name } }
}
