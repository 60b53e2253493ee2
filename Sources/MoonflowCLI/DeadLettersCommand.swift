import ArgumentParser
import MoonflowEngine
import MoonflowModel

/// `moonflow dead-letters …`: event starts a workflow refused, kept in the store (docs/cli.md).
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "List, inspect, redrive and discard events a workflow refused (its input schema), kept in the store.",
        subcommands: [List.self, Show.self, Redrive.self, Discard.self])

    /// `dead-letters list [--workflow W]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters, newest first.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Option(help: "Only dead letters of this workflow.") var workflow: String?

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                let answer = try await remote.call(.GET, "/v1/dead-letters?limit=500" + (workflow.map { "&workflow=\(RemoteServer.segment($0))" } ?? ""))
                return remote.printItems(answer, key: "dead_letters", global.format) { letter in
                    ["id", "created_at", "workflow", "status"].map { letter[$0]?.stringValue ?? "" }.joined(separator: "  ")
                        + "  " + (letter["event"]?["type"]?.stringValue ?? "") + "  " + (letter["errors"]?.arrayValue?.first?.stringValue ?? "")
                }
            }
            let store = try await Composition.runtime(global, storage).store
            let letters = try await store.eventDeadLetters(workflow: workflow)
            switch global.format {
            case .json: print(Value.array(letters.map { $0.toValue(summary: true) }).jsonString(pretty: true))
            case .text:
                TextTable.print(
                    letters.map { letter in
                        [
                            letter.id, letter.createdAt.iso8601, letter.workflow, letter.event.type, letter.status.rawValue,
                            letter.errors.first.map { SafeText.display($0, limit: 120) } ?? "",
                        ]
                    })
            }
        }
    }

    /// `dead-letters show ID`: the event, the input its trigger built and every error.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a dead letter: the event, the input and the errors.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The dead letter's id (dl-…).") var id: String

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                let answer = try await remote.call(.GET, "/v1/dead-letters/\(RemoteServer.segment(id))")
                return remote.printItems(answer, key: nil, global.format) { $0.jsonString(pretty: true) }
            }
            let store = try await Composition.runtime(global, storage).store
            guard let letter = try await store.eventDeadLetter(id: id) else {
                printError("error: unknown dead letter '\(SafeText.display(id, limit: 256))'")
                throw MoonflowExit.usage
            }
            switch global.format {
            case .json: print(letter.toValue().jsonString(pretty: true))
            case .text:
                for line in Self.lines(letter) { print(SafeText.escapingControls(line)) }
            }
        }

        static func lines(_ letter: EventDeadLetter) -> [String] {
            var event = "event: \(letter.event.type)"
            if let id = letter.event.id { event += "  id \(id)" }
            switch letter.event.source {
            case .api: event += "  from the API"
            case .emitted(let runID): event += "  emitted by run \(runID)"
            }
            var lines = [
                "dead letter \(letter.id)  \(letter.status.rawValue)  \(letter.createdAt.iso8601)",
                "workflow: \(letter.workflow)  version \(letter.version ?? "-")  hash \(letter.definitionHash)", event,
            ]
            if let key = letter.dedupeKey { lines.append("dedupe key: \(key)") }
            if let runID = letter.runID { lines.append("redriven as run: \(runID)") }
            lines.append("payload: \(letter.event.payload.jsonString())")
            lines.append("input: \(letter.input.jsonString())")
            lines.append("errors:")
            lines += letter.errors.map { "  \($0)" }
            return lines
        }
    }

    /// `dead-letters redrive ID`: the event submitted again to its workflow's current definition.
    struct Redrive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit a dead letter's event again to its workflow (after a fix), drive the run it starts and print its report.",
            discussion: "Exit status as `moonflow run`; 2 for an unknown dead letter or one that is not open, or an input the workflow still refuses.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The dead letter's id (dl-…).") var id: String

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                let answer = try await remote.call(.POST, "/v1/dead-letters/\(RemoteServer.segment(id))/redrive")
                return try await remote.printReport(of: answer["run_id"]?.stringValue ?? "", global.format)
            }
            let runtime = try await Composition.runtime(global, storage)
            let redrive: DeadLetterRedrive
            do {
                guard let letter = try await runtime.store.eventDeadLetter(id: id) else { throw DeadLetterError.unknown(id) }
                let pinned = try Composition.loadWorkflow(
                    letter.workflow, project: global.projectURL, connections: Set(runtime.config.connections.keys)
                ).pinned
                redrive = try await runtime.engine.redriveDeadLetter(id, workflow: pinned)
            } catch let error as DeadLetterError {
                printError("error: \(error)")
                throw MoonflowExit.usage
            }
            let report = try await runtime.driveUntilSettled(redrive.runID)
            Composition.print(report, global.format)
            await runtime.outbox.deliverPending(of: [redrive.runID])
            switch report.status {
            case .completed: return
            case .waiting, .paused, .queued: throw MoonflowExit.waiting
            default: throw MoonflowExit.failure
            }
        }
    }

    /// `dead-letters discard ID`.
    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop an open dead letter: it stays listed as discarded and is never redriven.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The dead letter's id (dl-…).") var id: String

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                let answer = try await remote.call(.POST, "/v1/dead-letters/\(RemoteServer.segment(id))/discard")
                return remote.printItems(answer, key: nil, global.format) { $0.jsonString(pretty: true) }
            }
            let runtime = try await Composition.runtime(global, storage)
            let letter: EventDeadLetter
            do {
                letter = try await runtime.engine.discardDeadLetter(id)
            } catch let error as DeadLetterError {
                printError("error: \(error)")
                throw MoonflowExit.usage
            }
            switch global.format {
            case .json: print(letter.toValue().jsonString(pretty: true))
            case .text: for line in Show.lines(letter) { print(SafeText.escapingControls(line)) }
            }
        }
    }
}
