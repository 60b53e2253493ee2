import Foundation
import Testing

/// `ChildProcess`, which `CLIRunner.run` waits on: no thread of the cooperative pool is held
/// while a child runs, and a child that fills both output pipes cannot deadlock.
@Suite(.timeLimit(.minutes(2))) struct ChildProcessTests {
    static func shell(_ script: String) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        return process
    }

    /// Eight children, more than the pool has threads, each waiting for a file that a task of the
    /// same pool creates once they all run: a runner holding a pool thread per child would never
    /// let that task run (the watchdog would kill them, and the statuses would not be 0).
    @Test func waitingChildrenHoldNoThreadOfThePool() async throws {
        let flag = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-child-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: flag) }
        let count = 8
        let started = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-started-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: started, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: started) }
        let results = try await withThrowingTaskGroup(of: ChildProcess.Result.self) { group in
            for index in 0..<count {
                group.addTask {
                    let script = "touch '\(started.path)/\(index)'; while [ ! -e '\(flag.path)' ]; do sleep 0.01; done; echo done \(index)"
                    return try await ChildProcess(Self.shell(script)).run(stdin: nil, watchdogSeconds: 60)
                }
            }
            group.addTask {
                while (try? FileManager.default.contentsOfDirectory(atPath: started.path).count) ?? 0 < count {
                    try await Task.sleep(for: .milliseconds(10))
                }
                _ = FileManager.default.createFile(atPath: flag.path, contents: nil)
                return ChildProcess.Result(status: 0, stdout: "flag", stderr: "", killed: false)
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == count + 1)
        #expect(results.allSatisfy { $0.status == 0 && !$0.killed })
        #expect(Set(results.map(\.stdout)) == Set((0..<count).map { "done \($0)\n" } + ["flag"]))
    }

    /// A megabyte on standard error before a megabyte on standard output, and a megabyte on
    /// standard input it echoes: read one pipe after the other, this blocks both sides.
    @Test func aLargeOutputOnBothPipesCannotDeadlock() async throws {
        let script = "head -c 1000000 /dev/zero | tr '\\0' e >&2; head -c 1000000 /dev/zero | tr '\\0' o; cat >&2"
        let input = Data(repeating: UInt8(ascii: "i"), count: 1_000_000)
        let result = try await ChildProcess(Self.shell(script)).run(stdin: input, watchdogSeconds: 60)
        #expect(result.status == 0 && !result.killed)
        #expect(result.stdout.utf8.count == 1_000_000 && result.stdout.utf8.allSatisfy { $0 == UInt8(ascii: "o") })
        #expect(result.stderr.utf8.count == 2_000_000)
        #expect(result.stderr.utf8.prefix(1_000_000).allSatisfy { $0 == UInt8(ascii: "e") })
        #expect(result.stderr.utf8.suffix(1_000_000).allSatisfy { $0 == UInt8(ascii: "i") })
    }

    @Test func aChildStillRunningAtItsLimitIsKilled() async throws {
        let result = try await ChildProcess(Self.shell("exec sleep 30")).run(stdin: nil, watchdogSeconds: 1)
        #expect(result.killed && result.status == SIGKILL)
    }
}
