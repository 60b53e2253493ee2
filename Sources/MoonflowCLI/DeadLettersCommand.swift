import ArgumentParser
import MoonflowEngine
import MoonflowModel

/// `moonflow dead-letters …`: event starts a workflow refused, events whose trigger failed and
/// notifications whose delivery failed, kept in the store (docs/cli.md).
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract:
            "List, inspect, redrive and discard what could not be done, kept in the store: events a workflow refused, events whose trigger failed, notifications whose delivery failed.",
        subcommands: [List.self, Show.self, Redrive.self, Discard.self])

    /// `dead-letters list [--workflow W] [--kind K]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dead letters, newest first: id, time, workflow, kind, the event's type or the notification's channel, status, first error.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Option(help: "Only dead letters of this workflow.") var workflow: String?
        @Option(help: "Only dead letters of this kind: refused_start, trigger_failed or notification_failed.") var kind: String?

        func run() async throws {
            let kind = try self.kind.map { text in
                guard let kind = EventDeadLetter.Kind(rawValue: text) else {
                    let kinds = EventDeadLetter.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                    printError("error: unknown dead letter kind '\(SafeText.display(text, limit: 64))' (one of \(kinds))")
                    throw MoonflowExit.usage
                }
                return kind
            }
            if let remote = Composition.remote(global, storage) {
                var path = "/v1/dead-letters?limit=500" + (workflow.map { "&workflow=\(RemoteServer.segment($0))" } ?? "")
                if let kind { path += "&kind=\(kind.rawValue)" }
                let answer = try await remote.call(.GET, path)
                return remote.printItems(answer, key: "dead_letters", global.format) { letter in
                    let subject = letter["event"]?["type"]?.stringValue ?? letter["notification"]?["channel"]?.stringValue ?? ""
                    return ["id", "created_at", "workflow", "kind"].map { letter[$0]?.stringValue ?? "" }.joined(separator: "  ")
                        + "  \(subject)  \(letter["status"]?.stringValue ?? "")  " + (letter["errors"]?.arrayValue?.first?.stringValue ?? "")
                }
            }
            let store = try await Composition.runtime(global, storage).store
            let letters = try await store.eventDeadLetters(workflow: workflow).filter { kind == nil || $0.kind == kind }
            switch global.format {
            case .json: print(Value.array(letters.map { $0.toValue(summary: true) }).jsonString(pretty: true))
            case .text:
                TextTable.print(
                    letters.map { letter in
                        [
                            letter.id, letter.createdAt.iso8601, letter.workflow, letter.kind.rawValue,
                            letter.event?.type ?? letter.notification?.notification.channel ?? "", letter.status.rawValue,
                            letter.errors.first.map { SafeText.display($0, limit: 120) } ?? "",
                        ]
                    })
            }
        }
    }

    /// `dead-letters show ID`: the event and the input its trigger built, or the notification, and every error.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a dead letter: its kind, the event and the input (or the notification and its message) and the errors.")
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
            var lines = [
                "dead letter \(letter.id)  \(letter.kind.rawValue)  \(letter.status.rawValue)  \(letter.createdAt.iso8601)",
                "workflow: \(letter.workflow)  version \(letter.version ?? "-")  hash \(letter.definitionHash)",
            ]
            if let event = letter.event {
                var line = "event: \(event.type)"
                if let id = event.id { line += "  id \(id)" }
                switch event.source {
                case .api: line += "  from the API"
                case .emitted(let runID): line += "  emitted by run \(runID)"
                }
                lines.append(line)
                if let key = letter.dedupeKey { lines.append("dedupe key: \(key)") }
                if let runID = letter.runID { lines.append("redriven as run: \(runID)") }
                lines.append("payload: \(event.payload.jsonString())")
                if letter.kind == .refusedStart { lines.append("input: \(letter.input.jsonString())") }
            }
            if let failed = letter.notification {
                lines.append(
                    "notification: \(failed.notification.id)  channel \(failed.notification.channel)  run \(failed.runID)  \(failed.attempts) attempts")
                lines.append("message: \(failed.notification.message.jsonString())")
            }
            lines.append("errors:")
            lines += letter.errors.map { "  \($0)" }
            return lines
        }
    }

    /// `dead-letters redrive ID`: the event submitted again to its workflow's current definition,
    /// or the notification delivered again.
    struct Redrive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Submit a dead letter's event again to its workflow (after a fix), drive the run it starts and print its report; or deliver a dead-lettered notification again.",
            discussion:
                "Exit status as `moonflow run` for an event; 0 for a notification delivered; 2 for an unknown dead letter or one that is not open, a trigger that still fails, an input the workflow still refuses or a delivery that fails again.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The dead letter's id (dl-…).") var id: String

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                let answer = try await remote.call(.POST, "/v1/dead-letters/\(RemoteServer.segment(id))/redrive")
                if answer["delivered"] == true {
                    return remote.printItems(answer["dead_letter"] ?? answer, key: nil, global.format) { Self.delivered($0["id"]?.stringValue ?? id) }
                }
                return try await remote.printReport(of: answer["run_id"]?.stringValue ?? "", global.format)
            }
            let runtime = try await Composition.runtime(global, storage)
            let redrive: DeadLetterRedrive
            do {
                guard let letter = try await runtime.store.eventDeadLetter(id: id) else { throw DeadLetterError.unknown(id) }
                if letter.kind == .notificationFailed {
                    let redriven = try await runtime.outbox.redrive(id)
                    switch global.format {
                    case .json: print(redriven.toValue(summary: true).jsonString(pretty: true))
                    case .text: print(Self.delivered(id))
                    }
                    return
                }
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

        static func delivered(_ id: String) -> String { "dead letter \(id): notification delivered" }
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
