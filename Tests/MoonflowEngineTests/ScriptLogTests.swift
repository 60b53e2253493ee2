import Logging
import MoonflowEngine
import MoonflowLua
import MoonflowModel
import Synchronization
import Testing

/// Issue 13 item 1: a script's `log.*` calls reach the engine's log (at their level, with the
/// run's metadata and their fields) and the run's journal (`activity.log` entries), for a failed
/// attempt as well as for the one that succeeds, capped per execution.
@Suite struct ScriptLogTests {
    /// Every line logged, with its metadata (the handler's and the call's).
    final class Captured: Sendable {
        let lines = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])
        var all: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] { lines.withLock { $0 } }
    }

    struct CapturingHandler: LogHandler {
        let captured: Captured
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, call in call }
            captured.lines.withLock { $0.append((event.level, event.message.description, merged)) }
        }
    }

    static func engine(_ store: any RunStore, _ captured: Captured) -> Engine {
        Engine(
            store: store, runner: LuaRunner(threads: 1), clock: SystemClock(), random: SeededRandomSource(seed: 1),
            logger: Logger(label: "test", factory: { _ in CapturingHandler(captured: captured) }))
    }

    static let chatty = Workflow(
        id: "chatty",
        activities: [
            Activity(
                name: "talk",
                body: .lua(
                    ScriptChunk(
                        source: """
                            log.info("trying", {attempt = activity.attempt, order = "o-1"})
                            if activity.attempt == 1 then
                              log.warn("first attempt fails")
                              error("boom")
                            end
                            log.debug("line\\nbreak")
                            log.error("done", {n = 2})
                            return 1
                            """, name: "workflows/chatty.yaml#talk")),
                retry: RetryPolicy(maxAttempts: 2, initial: .zero))
        ])

    @Test func scriptLogsAreJournaledAndLoggedWithTheRunsMetadata() async throws {
        let store = InMemoryRunStore()
        let captured = Captured()
        let engine = Self.engine(store, captured)
        let runID = try await engine.start(workflow: Self.chatty, definitionHash: "h", input: [:], runID: "c1")
        #expect(try await engine.drive(runID) == .completed)

        let journal = try await store.journal(of: runID)
        let logs = journal.filter { $0.type.rawValue == "activity.log" }
        #expect(logs.map(\.attempt) == [1, 1, 2, 2, 2])
        #expect(logs.map { $0.data["level"]?.stringValue } == ["info", "warn", "info", "debug", "error"])
        #expect(logs.map { $0.data["message"]?.stringValue } == ["trying", "first attempt fails", "trying", "line\nbreak", "done"])
        #expect(logs[0].data["fields"] == ["attempt": 1, "order": "o-1"])
        #expect(logs.allSatisfy { $0.activity == "talk" })
        // Attempt 1's entries come before its retry, attempt 2's before the completion.
        let types = journal.map(\.type.rawValue)
        let retry = try #require(types.firstIndex(of: "activity.retrying"))
        let completed = try #require(types.firstIndex(of: "activity.completed"))
        let positions = journal.indices.filter { journal[$0].type.rawValue == "activity.log" }
        #expect(positions[1] < retry && retry < positions[2] && positions[4] < completed)
        // The journal still folds to the stored state.
        let state = try #require(try await store.state(of: runID))
        #expect(RunState.folding(journal) == state)

        let lines = captured.all.filter { ["trying", "first attempt fails", "line\nbreak", "done"].contains($0.message) }
        #expect(lines.map(\.level) == [.info, .warning, .info, .debug, .error])
        for line in lines {
            #expect(line.metadata["run.id"] == "c1")
            #expect(line.metadata["workflow"] == "chatty")
            #expect(line.metadata["activity"] == "talk")
        }
        #expect(lines.map { $0.metadata["attempt"]?.description } == ["1", "1", "2", "2", "2"])
        #expect(lines[0].metadata["order"] == "o-1")
        #expect(lines[4].metadata["n"] == "2")
        // No generic "activity.log" line repeats each entry.
        #expect(!captured.all.contains { $0.message == "activity.log" })
    }

    @Test func theJournalKeepsThePerExecutionCap() async throws {
        let store = InMemoryRunStore()
        let engine = Self.engine(store, Captured())
        let workflow = Workflow(
            id: "flood",
            activities: [
                Activity(
                    name: "flood",
                    body: .lua(ScriptChunk(source: "for i = 1, 5000 do log.info('line ' .. i) end return 1", name: "flood")))
            ])
        let runID = try await engine.start(workflow: workflow, definitionHash: "h", input: [:], runID: "f1")
        #expect(try await engine.drive(runID) == .completed)
        let logs = try await store.journal(of: runID).filter { $0.type.rawValue == "activity.log" }
        #expect(logs.count == 1000)
        #expect(logs.last?.data["message"] == "log limit reached; later entries dropped")
    }
}
