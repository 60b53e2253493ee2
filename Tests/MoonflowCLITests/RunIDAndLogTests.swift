import Foundation
import MoonflowModel
import Testing

/// Issue 12 through the real `moonflow` binary: `--run-id` follows the run id rule, a different
/// start under an existing id is refused, error texts are capped, and nothing a script or a
/// caller writes can forge a line of the text log or reach the terminal as an escape sequence.
@Suite(.timeLimit(.minutes(2))) struct RunIDAndLogTests {
    /// A temporary project with the given workflows, removed when the value goes.
    final class Project: Sendable {
        let directory: URL
        init(_ files: [String: String]) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-ids-\(UUID().uuidString)")
            for (path, text) in files {
                let url = directory.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url)
            }
        }
        deinit { try? FileManager.default.removeItem(at: directory) }

        func moonflow(_ arguments: [String]) async throws -> CLIResult {
            try await CLIRunner.run(arguments + ["--project", directory.path], in: directory)
        }

        var storeBytes: Int {
            let folder = directory.appendingPathComponent(".moonflow")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return names.reduce(0) { total, name in
                let size = (try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.size] as? Int) ?? 0
                return total + size
            }
        }
    }

    static let echo = """
        workflow: echo
        activities:
          - {name: a, run: "return input"}
        """

    @Test(arguments: ["bad/id", "x')", "-", "@schedule:echo:1", "a\u{1B}[2Jb"])
    func aRunIDOutsideTheRuleIsAUsageErrorAndStartsNothing(_ id: String) async throws {
        let project = try Project(["workflows/echo.yaml": Self.echo])
        let result = try await project.moonflow(["run", "echo", "--run-id=\(id)"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--run-id"))
        #expect(result.stderr.contains(RunIDRule.pattern))
        #expect(!result.stderr.contains("\u{1B}"))
        #expect(project.storeBytes == 0)
    }

    @Test func aDifferentStartUnderAnExistingIDIsRefused() async throws {
        let project = try Project(["workflows/echo.yaml": Self.echo])
        await #expect(try project.moonflow(["run", "echo", "--run-id", "e1", "--input", #"{"n": 1}"#]).status == 0)
        await #expect(try project.moonflow(["run", "echo", "--run-id", "e1", "--input", #"{"n": 1}"#]).status == 0)
        let other = try await project.moonflow(["run", "echo", "--run-id", "e1", "--input", #"{"n": 2}"#])
        #expect(other.status == 2)
        #expect(other.stderr.contains("exists"))
        let report = try await Value(json: try project.moonflow(["runs", "show", "e1", "--format", "json"]).stdout)
        #expect(report["input"] == ["n": 1])
        #expect(report["output"] == ["n": 1])
    }

    static let loud = #"""
        workflow: loud
        activities:
          - name: boom
            retry: {max_attempts: 3, backoff: {initial: 10ms}}
            run: |
              error(string.rep("E", 20 * 1024 * 1024) .. "\n2026-12-07T00:00:00+0000 critical moonflow : admin token rotated\27[2J")
        """#

    /// The issue's figures were 84 MB in the store, 104 MB of log and an 84 MB history for this
    /// workflow; each is now a few kilobytes, and the forged line stays inside its own.
    @Test func aHugeScriptErrorIsCappedEverywhereAndForgesNoLogLine() async throws {
        let project = try Project(["workflows/loud.yaml": Self.loud])
        let run = try await project.moonflow(["run", "loud", "--run-id", "l1", "--format", "json"])
        #expect(run.status == 1)
        #expect(run.stderr.utf8.count < 128 << 10, "stderr holds \(run.stderr.utf8.count) bytes")
        #expect(run.stdout.utf8.count < 128 << 10, "the report holds \(run.stdout.utf8.count) bytes")
        #expect(project.storeBytes < 4 << 20, "the store holds \(project.storeBytes) bytes")
        let history = try await project.moonflow(["runs", "history", "l1", "--format", "json"])
        #expect(history.stdout.utf8.count < 128 << 10, "the history holds \(history.stdout.utf8.count) bytes")
        let report = try Value(json: run.stdout)
        let message = try #require(report["error"]?["message"]?.stringValue)
        #expect(message.utf8.count <= 8192)
        #expect(message.contains("[truncated: "))
    }

    static let forge = #"""
        workflow: forge
        activities:
          - name: boom
            retry: {max_attempts: 1}
            run: |
              error("denied\n2026-12-07T00:00:00+0000 critical moonflow : admin token rotated\r\27[2J\27]0;owned\7")
        """#

    @Test func aScriptErrorCannotForgeALogLineOrATerminalSequence() async throws {
        let project = try Project(["workflows/forge.yaml": Self.forge])
        for format in ["text", "json"] {
            let run = try await project.moonflow(["run", "forge", "--store", "memory", "--format", format])
            #expect(run.status == 1)
            #expect(run.stderr.contains("denied"))
            for output in [run.stderr, run.stdout] {
                #expect(!output.contains("\u{1B}") && !output.contains("\r") && !output.contains("\u{7}"))
            }
            let lines = run.stderr.split(separator: "\n") + run.stdout.split(separator: "\n")
            #expect(!lines.contains { $0.hasPrefix("2026-12-07T00:00:00+0000 critical") })
            #expect(run.stderr.contains(#"denied\n2026-12-07T00:00:00+0000 critical moonflow : admin token rotated\r\u{1B}[2J"#))
        }
    }
}
