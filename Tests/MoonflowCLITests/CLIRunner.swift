import Foundation
import Synchronization

/// Runs the built `moonflow` binary (next to the test bundle in `.build/<config>/`, or `MOONFLOW_TEST_BINARY`) and captures its output.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum CLIRunner {
    /// `MOONFLOW_TEST_BINARY` names another binary to test (`make test` also runs this suite against
    /// the release build, which is what users run: the optimiser has hidden crashes from debug builds).
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["MOONFLOW_TEST_BINARY"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let testExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return testExecutable.deletingLastPathComponent().appendingPathComponent("moonflow")
    }

    /// The repository root (this file is at Tests/MoonflowCLITests/CLIRunner.swift).
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func run(
        _ arguments: [String], stdin: String? = nil, in directory: URL? = nil, environment: [String: String] = [:]
    ) throws -> CLIResult {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? repositoryRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // A child that hangs is killed, so the test fails naming the command instead of stalling the suite.
        let watchdog = Watchdog(pid: process.processIdentifier, after: watchdogSeconds)
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes before waiting, so a large output cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var stderr = String(decoding: errData, as: UTF8.self)
        if watchdog.stop() {
            stderr += "\n[test watchdog: `moonflow \(arguments.joined(separator: " "))` was killed after \(watchdogSeconds) s]"
        }
        return CLIResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: stderr)
    }

    /// How long one `moonflow` command may run in a test.
    static let watchdogSeconds = 120
}

/// Kills a child process with SIGKILL unless stopped within a time limit.
final class Watchdog: Sendable {
    private let state = Mutex<(stopped: Bool, fired: Bool)>((false, false))

    init(pid: Int32, after seconds: Int) {
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds)) { [self] in
            let fire = state.withLock { s in
                if !s.stopped { s.fired = true }
                return s.fired
            }
            if fire { kill(pid, SIGKILL) }
        }
    }

    /// Disarms it; `true` when it had fired.
    func stop() -> Bool {
        state.withLock { s in
            s.stopped = true
            return s.fired
        }
    }
}
