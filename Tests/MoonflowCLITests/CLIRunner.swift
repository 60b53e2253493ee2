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

    /// Runs `moonflow` with `arguments` and waits for it without holding a thread of Swift
    /// concurrency's cooperative pool (two on a two-core machine, shared by every test of the
    /// process): the child is waited for, and its output read, on threads of its own
    /// (`ChildProcess`), and this call suspends until they are done. At most one child per core
    /// runs at a time (`slots`): the suite's tests no longer wait on each other's children, and
    /// without a bound they would start dozens at once, slowing each past the short sandbox
    /// limits some of them assert.
    static func run(
        _ arguments: [String], stdin: String? = nil, in directory: URL? = nil, environment: [String: String] = [:]
    ) async throws -> CLIResult {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? repositoryRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        await slots.acquire()
        var result: ChildProcess.Result
        do {
            result = try await ChildProcess(process).run(stdin: stdin.map { Data($0.utf8) }, watchdogSeconds: watchdogSeconds)
        } catch {
            await slots.release()
            throw error
        }
        await slots.release()
        if result.killed {
            result.stderr += "\n[test watchdog: `moonflow \(arguments.joined(separator: " "))` was killed after \(watchdogSeconds) s]"
        }
        return CLIResult(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    static let slots = Slots(ProcessInfo.processInfo.activeProcessorCount)

    /// How long one `moonflow` command may run in a test.
    static let watchdogSeconds = 120
}

/// A counting semaphore for tasks: `acquire` suspends (holding no thread) while every slot is taken.
actor Slots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = max(1, count) }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Hands the slot to the longest waiting task, else frees it.
    func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
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
