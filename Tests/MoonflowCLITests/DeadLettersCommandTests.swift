import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowStore
import Testing

/// `moonflow dead-letters list|show` read the event dead letters of the store (issue 13 item 12).
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

        let list = try CLIRunner.run(["dead-letters", "list", "--project", path])
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        // Newest first, in aligned columns.
        #expect(lines.first?.hasPrefix("dl-refund  2027-01-15T08:00:02.000Z  refund  order:placed  open  amount: must be >= 0") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("dl-charge  2027-01-15T08:00:01.000Z  charge  order:placed  open  amount: must be integer") == true)

        let json = try CLIRunner.run(["dead-letters", "list", "--workflow", "charge", "--format", "json", "--project", path])
        #expect(json.status == 0)
        #expect(try Value(json: json.stdout) == [charge.toValue(summary: true)])

        let show = try CLIRunner.run(["dead-letters", "show", "dl-charge", "--project", path])
        #expect(show.status == 0)
        #expect(show.stdout.contains("workflow: charge  version 2  hash hash-charge"))
        #expect(show.stdout.contains("event: order:placed  id evt-1  from the API"))
        #expect(show.stdout.contains("payload: {\"amount\":\"ten\"}"))
        #expect(show.stdout.contains("errors:\n  amount: must be integer\n  note: forged\\u{1B}[2J"))
        #expect(!show.stdout.contains("\u{1B}"))
        let whole = try CLIRunner.run(["dead-letters", "show", "dl-charge", "--format", "json", "--project", path])
        #expect(try Value(json: whole.stdout) == charge.toValue())

        let unknown = try CLIRunner.run(["dead-letters", "show", "dl-nope", "--project", path])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown dead letter 'dl-nope'"))
        let unknownJSON = try CLIRunner.run(["dead-letters", "show", "dl-nope", "--format", "json", "--project", path])
        #expect(unknownJSON.status == 2)
        #expect(try Value(json: unknownJSON.stdout)["error"]?["message"] == "unknown dead letter 'dl-nope'")
    }
}
