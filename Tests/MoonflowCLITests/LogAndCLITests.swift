import Foundation
import MoonflowModel
import MoonflowStore
import Testing

/// Issue 13 items 1, 2, 10 and 16 through the real `moonflow` binary: script logs in `runs history`,
/// `logging.format: json` (every stderr line one JSON object), bad log levels and time zones refused
/// by `validate`, and the CLI's promises (`--version`, object inputs, task completion, errors as JSON,
/// binary chunks, a taken port).
@Suite(.timeLimit(.minutes(3))) struct LogAndCLITests {
    static let chatty = #"""
        workflow: chatty
        activities:
          - name: talk
            run: |
              log.info("hello\nforged 2026-12-07 critical line\27[2J", {order = "o-1", ["we\"ird\nkey"] = {1, 2, "\0"}})
              log.warn("careful")
              return 1
        """#

    static func lines(_ text: String) -> [String] { text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }

    /// Every line parses as one JSON object with ts, level, message and logger.
    static func expectJSONLines(_ stderr: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Value] {
        var objects: [Value] = []
        for line in lines(stderr) {
            guard let object = try? Value(json: line), object.objectValue != nil else {
                Issue.record("not one JSON object: \(line)", sourceLocation: sourceLocation)
                continue
            }
            for key in ["ts", "level", "message", "logger"] where object[key]?.stringValue == nil {
                Issue.record("no '\(key)' in \(line)", sourceLocation: sourceLocation)
            }
            objects.append(object)
        }
        return objects
    }

    // MARK: item 1

    @Test func scriptLogsAreInTheRunsHistory() async throws {
        let project = try CLIProject(files: ["workflows/chatty.yaml": Self.chatty])
        let run = try await CLIRunner.run(["run", "chatty", "--run-id", "c1", "--project", project.url.path])
        #expect(run.status == 0, "\(run.stderr)")
        // Logged at its level (warn shows at the run command's warning level), with the run's metadata.
        #expect(run.stderr.contains("careful"))
        #expect(run.stderr.contains("run.id=c1"))
        let history = try await CLIRunner.run(["runs", "history", "c1", "--format", "json", "--project", project.url.path])
        #expect(history.status == 0)
        let entries = try Value(json: history.stdout).arrayValue ?? []
        let logs = entries.filter { $0["type"] == "activity.log" }
        #expect(logs.map { $0["data"]?["message"] } == ["hello\nforged 2026-12-07 critical line\u{1B}[2J", "careful"])
        #expect(logs.first?["data"]?["fields"]?["order"] == "o-1")
        let text = try await CLIRunner.run(["runs", "history", "c1", "--project", project.url.path])
        #expect(text.stdout.contains("activity.log  talk  attempt 1  warn: careful"))
        #expect(!text.stdout.contains("\u{1B}"))
        // The store's state still equals the fold of its journal, log entries included.
        let store = try SQLiteRunStore(path: project.url.appendingPathComponent(".moonflow/state.db").path)
        #expect(try await store.verify().isEmpty)
    }

    // MARK: item 2

    @Test func jsonLogsMakeEveryStderrLineOfRunOneJSONObject() async throws {
        let project = try CLIProject(files: [
            "workflows/chatty.yaml": Self.chatty, "moonflow.yaml": "logging: {format: json, level: debug}\n",
        ])
        let run = try await CLIRunner.run(["run", "chatty", "--run-id", "j1", "--project", project.url.path])
        #expect(run.status == 0, "\(run.stderr)")
        let objects = Self.expectJSONLines(run.stderr)
        let careful = try #require(objects.first(where: { $0["message"] == "careful" }))
        #expect(careful["level"] == "warning")
        #expect(careful["run.id"] == "j1")
        #expect(careful["workflow"] == "chatty")
        #expect(careful["activity"] == "talk")
        #expect(careful["logger"] == "moonflow")
        // A usage error is one JSON object too.
        let bad = try await CLIRunner.run(["run", "nope", "--project", project.url.path])
        #expect(bad.status == 2)
        #expect(!Self.expectJSONLines(bad.stderr).isEmpty)
    }

    @Test func jsonLogsMakeEveryStderrLineOfServeOneJSONObject() async throws {
        let project = try CLIProject(files: [
            "workflows/chatty.yaml": Self.chatty, "moonflow.yaml": "logging: {format: json, level: debug}\n",
        ])
        let (status, stderr) = try await Self.serveBriefly(project)
        #expect(status == 0)
        let objects = Self.expectJSONLines(stderr)
        #expect(objects.contains { ($0["message"]?.stringValue ?? "").contains("moonflow serves") })
    }

    /// Starts `serve` on a free port, waits for its first line, lets it run a moment, stops it.
    static func serveBriefly(_ project: CLIProject, seconds: Double = 1.5, arguments: [String] = []) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = CLIRunner.binary
        process.arguments = ["serve", "--insecure-no-auth", "--port", "0", "--store", "memory", "--project", project.url.path] + arguments
        process.currentDirectoryURL = project.url
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let watchdog = Watchdog(pid: process.processIdentifier, after: 60)
        try await Task.sleep(for: .seconds(seconds))
        kill(process.processIdentifier, SIGTERM)
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        _ = watchdog.stop()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    // MARK: item 10

    @Test(arguments: ["verbose", "WARN", "loud"])
    func anUnknownLogLevelIsRefusedByValidate(_ level: String) async throws {
        let project = try CLIProject(files: [
            "workflows/w.yaml": "workflow: w\nactivities:\n  - name: a\n    call: log\n    with: {level: \(level), message: hi}\n"
        ])
        let result = try await CLIRunner.run(["validate", "--project", project.url.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("'level' must be one of"), "\(result.stdout)")
    }

    @Test func warnAndWarningBothLogAtWarning() async throws {
        let project = try CLIProject(files: [
            "workflows/w.yaml": """
                workflow: w
                activities:
                  - {name: a, call: log, with: {level: warn, message: first-warn}}
                  - {name: b, call: log, needs: [a], with: {level: warning, message: second-warning}}
                  - {name: c, call: log, needs: [b], with: {level: info, message: quiet-info}}
                """
        ])
        #expect(try await CLIRunner.run(["validate", "--project", project.url.path]).status == 0)
        let run = try await CLIRunner.run(["run", "w", "--project", project.url.path])
        #expect(run.status == 0)
        // `run` logs at warning: both warnings show, the info line does not.
        #expect(run.stderr.contains("first-warn"))
        #expect(run.stderr.contains("second-warning"))
        #expect(!run.stderr.contains("quiet-info"))
    }

    @Test func anUnknownTimeZoneIsRefusedByValidateAndServeDoesNotRepeatIt() async throws {
        let project = try CLIProject(files: [
            "workflows/tz.yaml": "workflow: tz\ntrigger: {schedule: {cron: \"* * * * *\", timezone: Mars/Olympus_Mons}}\nactivities: [{name: a, call: noop}]\n"
        ])
        let result = try await CLIRunner.run(["validate", "--project", project.url.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("is not an IANA time zone name"))
        let (_, stderr) = try await Self.serveBriefly(project, seconds: 2.5)
        #expect(!stderr.contains("schedule not usable"))
    }

    // MARK: item 16

    @Test func versionIsPrinted() async throws {
        let result = try await CLIRunner.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("moonflow "))
    }

    @Test(arguments: ["42", "null", "[]", "\"text\""])
    func runInputMustBeAJSONObject(_ input: String) async throws {
        let project = try CLIProject(files: ["workflows/e.yaml": "workflow: e\nactivities: [{name: a, run: \"return input\"}]\n"])
        let result = try await CLIRunner.run(["run", "e", "--input", input, "--project", project.url.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("must be a JSON object"))
        #expect(!FileManager.default.fileExists(atPath: project.url.appendingPathComponent(".moonflow/state.db").path))
    }

    @Test func completingACompletedTaskExitsZeroOnlyWithTheSameData() async throws {
        let project = try CLIProject(files: [
            "workflows/m.yaml": "workflow: m\nactivities: [{name: approve, type: manual, form: {type: object}}]\n"
        ])
        let start = try await CLIRunner.run(["run", "m", "--run-id", "m1", "--project", project.url.path])
        #expect(start.status == 3)
        let list = try Value(json: try await CLIRunner.run(["tasks", "list", "--format", "json", "--project", project.url.path]).stdout)
        let id = try #require(list.arrayValue?.first?["id"]?.stringValue)
        let complete = { (data: String) in try await CLIRunner.run(["tasks", "complete", id, "--data", data, "--project", project.url.path]) }
        await #expect(try complete(#"{"ok": true}"#).status == 0)
        await #expect(try complete(#"{"ok": true}"#).status == 0)
        let other = try await complete(#"{"ok": false}"#)
        #expect(other.status == 1)
        #expect(other.stderr.contains("already_completed"))
    }

    @Test func jsonFormatPrintsErrorsAsJSONOnStdout() async throws {
        let project = try CLIProject(files: [:])
        let result = try await CLIRunner.run(["runs", "show", "nope", "--format", "json", "--project", project.url.path])
        #expect(result.status == 2)
        let document = try Value(json: result.stdout)
        #expect(document["error"]?["message"]?.stringValue?.contains("nope") == true)
        // An invalid workflow: the error document lists its diagnostics.
        let invalid = try CLIProject(files: ["workflows/bad.yaml": "workflow: bad\nactivities: [{name: a, call: nop}]\n"])
        let bad = try await CLIRunner.run(["run", "bad", "--format", "json", "--project", invalid.url.path])
        #expect(bad.status == 1)
        #expect(try Value(json: bad.stdout)["error"]?["errors"]?.arrayValue?.first?["code"] == "InvalidValue")
        // A usage error found while parsing too.
        let usage = try await CLIRunner.run(["run", "e", "--input", "{}", "--input-file", "x", "--format", "json", "--project", project.url.path])
        #expect(usage.status == 2)
        #expect(try Value(json: usage.stdout)["error"]?["message"]?.stringValue?.contains("cannot be used together") == true)
    }

    @Test func aBinaryChunkIsRefusedAsSuch() async throws {
        let project = try CLIProject(files: ["workflows/.keep": ""])
        let path = project.url.appendingPathComponent("compiled.lua")
        try Data([0x1B, 0x4C, 0x75, 0x61, 0x54, 0x00, 0x19, 0x93, 0x0D, 0x0A, 0x1A, 0x0A, 0x04, 0x08, 0x08, 0xFF]).write(to: path)
        let result = try await CLIRunner.run(["script", path.path, "--project", project.url.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("binary"), "\(result.stderr)")
        #expect(!result.stderr.contains("cannot read"))
    }

    @Test func aTakenPortIsNamed() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0)
        #expect(listen(listener, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let project = try CLIProject(files: [:])
        let result = try await CLIRunner.run(["serve", "--insecure-no-auth", "--port", "\(port)", "--store", "memory", "--project", project.url.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("port \(port) is already in use"), "\(result.stderr)")
    }

    @Test func listsAreAlignedTables() async throws {
        let project = try CLIProject(files: [
            "workflows/a.yaml": "workflow: a\nactivities: [{name: x, call: noop}]\n",
            "workflows/longer_name.yaml": "workflow: longer_name\nactivities: [{name: x, call: noop}]\n",
        ])
        #expect(try await CLIRunner.run(["run", "a", "--run-id", "r-long-identifier", "--project", project.url.path]).status == 0)
        #expect(try await CLIRunner.run(["run", "longer_name", "--run-id", "r2", "--project", project.url.path]).status == 0)
        let list = try await CLIRunner.run(["runs", "list", "--project", project.url.path])
        let lines = Self.lines(list.stdout)
        #expect(lines.count == 2)
        // The status column starts at the same place on every line, whatever the id and workflow widths.
        let offsets = lines.compactMap { line in line.range(of: "completed").map { line.distance(from: line.startIndex, to: $0.lowerBound) } }
        #expect(offsets.count == 2 && offsets[0] == offsets[1], "\(list.stdout)")
    }

    /// `runs resume` of several runs shows a progress line on a terminal (`script` gives it one),
    /// and none through a pipe.
    @Test func resumeShowsProgressOnATerminalOnly() async throws {
        let project = try CLIProject(files: [
            "workflows/m.yaml": "workflow: m\nactivities: [{name: approve, type: manual, form: {type: object}}]\n"
        ])
        for id in ["p1", "p2", "p3"] {
            #expect(try await CLIRunner.run(["run", "m", "--run-id", id, "--project", project.url.path]).status == 3)
        }
        let piped = try await CLIRunner.run(["runs", "resume", "--project", project.url.path])
        #expect(piped.status == 3)
        #expect(!piped.stderr.contains("resuming runs"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        let command = [CLIRunner.binary.path, "runs", "resume", "--project", project.url.path].map { "'\($0)'" }.joined(separator: " ")
        process.arguments = ["-qec", command, "/dev/null"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let terminal = String(decoding: data, as: UTF8.self)
        #expect(terminal.contains("resuming runs: 3/3"), "\(terminal)")
    }
}
