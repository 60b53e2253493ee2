import ArgumentParser
import MoonflowEngine
import MoonflowModel

/// `moonflow dead-letters …`: event starts a workflow refused, kept in the store (docs/cli.md).
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters", abstract: "List and inspect events a workflow refused (its input schema), kept in the store.",
        subcommands: [List.self, Show.self])

    /// `dead-letters list [--workflow W]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters, newest first.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Option(help: "Only dead letters of this workflow.") var workflow: String?

        func run() async throws {
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
            lines.append("payload: \(letter.event.payload.jsonString())")
            lines.append("input: \(letter.input.jsonString())")
            lines.append("errors:")
            lines += letter.errors.map { "  \($0)" }
            return lines
        }
    }
}
