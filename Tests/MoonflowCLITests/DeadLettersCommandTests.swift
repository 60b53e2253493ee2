import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowStore
import Testing

/// `moonflow dead-letters list|show|redrive|discard` on the dead letters of the store (issue 13
/// item 12, issue 18): refused starts, failed triggers, failed notifications.
@Suite(.timeLimit(.minutes(1))) struct DeadLettersCommandTests {
    static func letter(_ id: String, workflow: String, second: Int64, errors: [String]) -> EventDeadLetter {
        EventDeadLetter(
            id: id, createdAt: Timestamp(nanosecondsSinceEpoch: 1_800_000_000_000_000_000 + second * 1_000_000_000),
            event: PostedEvent(type: "order:placed", payload: ["amount": "ten"], id: "evt-\(second)"), dedupeKey: nil,
            workflow: workflow, version: "2", definitionHash: "hash-\(workflow)", input: ["amount": "ten"], errors: errors)
    }

    /// Writes the letters into the project's store file, and waits until the file's owner lock is let go.
    static func store(_ letters: [EventDeadLetter], in project: CLIProject) async throws {
        let path = project.url.appendingPathComponent(".moonflow/state.db").path
        do {
            let store = try SQLiteRunStore(path: path)
            for letter in letters { #expect(try await store.recordEventDeadLetter(letter)) }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                _ = try SQLiteRunStore(path: path)
                return
            } catch StoreOpenError.inUse where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    @Test func listAndShowTheStoredDeadLetters() async throws {
        let project = try CLIProject(files: ["workflows/charge.yaml": "workflow: charge\nactivities:\n  - {name: a, call: noop}\n"])
        let charge = Self.letter("dl-charge", workflow: "charge", second: 1, errors: ["amount: must be integer", "note: forged\u{1B}[2J"])
        let refund = Self.letter("dl-refund", workflow: "refund", second: 2, errors: ["amount: must be >= 0"])
        try await Self.store([charge, refund], in: project)
        let path = project.url.path

        let list = try await CLIRunner.run(["dead-letters", "list", "--project", path])
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        // Newest first, in aligned columns.
        #expect(lines.first?.hasPrefix("dl-refund  2027-01-15T08:00:02.000Z  refund  refused_start  order:placed  open  amount: must be >= 0") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("dl-charge  2027-01-15T08:00:01.000Z  charge  refused_start  order:placed  open  amount: must be integer") == true)

        let json = try await CLIRunner.run(["dead-letters", "list", "--workflow", "charge", "--format", "json", "--project", path])
        #expect(json.status == 0)
        #expect(try Value(json: json.stdout) == [charge.toValue(summary: true)])

        let show = try await CLIRunner.run(["dead-letters", "show", "dl-charge", "--project", path])
        #expect(show.status == 0)
        #expect(show.stdout.contains("workflow: charge  version 2  hash hash-charge"))
        #expect(show.stdout.contains("event: order:placed  id evt-1  from the API"))
        #expect(show.stdout.contains("payload: {\"amount\":\"ten\"}"))
        #expect(show.stdout.contains("errors:\n  amount: must be integer\n  note: forged\\u{1B}[2J"))
        #expect(!show.stdout.contains("\u{1B}"))
        let whole = try await CLIRunner.run(["dead-letters", "show", "dl-charge", "--format", "json", "--project", path])
        #expect(try Value(json: whole.stdout) == charge.toValue())

        let unknown = try await CLIRunner.run(["dead-letters", "show", "dl-nope", "--project", path])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown dead letter 'dl-nope'"))
        let unknownJSON = try await CLIRunner.run(["dead-letters", "show", "dl-nope", "--format", "json", "--project", path])
        #expect(unknownJSON.status == 2)
        #expect(try Value(json: unknownJSON.stdout)["error"]?["message"] == "unknown dead letter 'dl-nope'")
    }

    /// A failed trigger's and a failed notification's dead letters: listed with their kind (and
    /// filtered by it), shown, redriven (the run starts and completes; the notification reaches
    /// a real receiver, `moonflow mock-services`, once it answers 200), and refused clearly when
    /// the kind is unknown or the letter is not open.
    @Test func failedTriggersAndNotificationsAreListedShownAndRedriven() async throws {
        let project = try CLIProject(files: [
            "workflows/vip.yaml": "workflow: vip\ntrigger: {event: \"order:placed\"}\nactivities:\n  - {name: a, run: \"return {amount = input.amount}\"}\n",
            "mocks/hooks.yaml": """
                services:
                  - {connection: hooks, method: POST, path: /T0, respond: {status: 503, body: down}}
                  - {connection: hooks, method: POST, path: /T0, respond: {status: 200, body: ok}}
                """,
        ])
        let path = project.url.path
        let receiver = try MockServicesProcess(file: "mocks/hooks.yaml", in: project.url)
        defer { receiver.stop() }
        try "connections: {ops_webhook: {url: 'http://127.0.0.1:\(receiver.port)/hooks/T0', allow_private_network: true}}\n"
            .write(to: project.url.appendingPathComponent("moonflow.yaml"), atomically: true, encoding: .utf8)
        var trigger = Self.letter("dl-vip", workflow: "vip", second: 1, errors: ["trigger.when: attempt to index a nil value (field 'customer')"])
        trigger.kind = .triggerFailed
        trigger.input = .null
        let failed = EventDeadLetter.FailedNotification(
            runID: "gone-1", notification: QueuedNotification(id: "gone-1:4", channel: "ops_webhook", message: ["event": "run.failed"]),
            attempts: 5)
        let notification = EventDeadLetter(
            notification: failed, createdAt: Timestamp(nanosecondsSinceEpoch: 1_800_000_002_000_000_000), workflow: "payout", version: nil,
            definitionHash: "hash-payout", error: "HttpError: POST answered 503")
        try await Self.store([trigger, notification], in: project)

        let list = try await CLIRunner.run(["dead-letters", "list", "--project", path])
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("\(notification.id)  2027-01-15T08:00:02.000Z  payout  notification_failed  ops_webhook   open  HttpError") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("dl-vip  ") == true && lines.last?.contains("  vip     trigger_failed       order:placed  open  trigger.when: ") == true, "\(lines)")
        let only = try await CLIRunner.run(["dead-letters", "list", "--kind", "notification_failed", "--format", "json", "--project", path])
        #expect(try Value(json: only.stdout) == [notification.toValue(summary: true)])
        let bad = try await CLIRunner.run(["dead-letters", "list", "--kind", "lost_mail", "--project", path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("unknown dead letter kind 'lost_mail' (one of refused_start, trigger_failed, notification_failed)"), "\(bad.stderr)")

        let show = try await CLIRunner.run(["dead-letters", "show", notification.id, "--project", path])
        #expect(show.stdout.contains("dead letter \(notification.id)  notification_failed  open"), "\(show.stdout)")
        #expect(show.stdout.contains("notification: gone-1:4  channel ops_webhook  run gone-1  5 attempts"))
        #expect(show.stdout.contains("message: {\"event\":\"run.failed\"}") && !show.stdout.contains("payload:"))

        // The receiver's first answer is a 503: the letter stays open; its second is a 200.
        let down = try await CLIRunner.run(["dead-letters", "redrive", notification.id, "--project", path])
        #expect(down.status == 2 && down.stderr.contains("the delivery failed again"), "\(down.stderr)")
        let up = try await CLIRunner.run(["dead-letters", "redrive", notification.id, "--project", path])
        #expect(up.status == 0, "\(up.stderr)")
        #expect(up.stdout == "dead letter \(notification.id): notification delivered\n")
        let after = try await CLIRunner.run(["dead-letters", "show", notification.id, "--format", "json", "--project", path])
        #expect(try Value(json: after.stdout)["status"] == "redriven")
        let twice = try await CLIRunner.run(["dead-letters", "discard", notification.id, "--project", path])
        #expect(twice.status == 2 && twice.stderr.contains("it was redriven already"), "\(twice.stderr)")

        // The trigger of the current definition evaluates: the event starts its run.
        let run = try await CLIRunner.run(["dead-letters", "redrive", "dl-vip", "--format", "json", "--project", path])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Value(json: run.stdout)
        #expect(report["status"] == "completed" && report["workflow"] == "vip" && report["output"] == ["amount": "ten"])
        let vip = try await CLIRunner.run(["dead-letters", "show", "dl-vip", "--format", "json", "--project", path])
        #expect(try Value(json: vip.stdout)["run_id"] == report["run_id"])
    }
}

/// `moonflow mock-services FILE --port 0` in `directory`, for as long as a test needs a real receiver.
final class MockServicesProcess {
    let port: Int
    private let process = Process()

    init(file: String, in directory: URL) throws {
        process.executableURL = CLIRunner.binary
        process.arguments = ["mock-services", file, "--port", "0"]
        process.currentDirectoryURL = directory
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // It names its port on standard error once it listens: "… listening on http://127.0.0.1:PORT/ …".
        var seen = ""
        while process.isRunning, !seen.contains("/ (") {
            seen += String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
        }
        guard let range = seen.range(of: "127.0.0.1:"), let port = Int(seen[range.upperBound...].prefix { $0.isNumber }) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "mock-services did not listen: \(seen)"])
        }
        self.port = port
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
