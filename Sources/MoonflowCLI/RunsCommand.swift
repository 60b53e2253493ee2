import ArgumentParser
import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import MoonflowStore
import OrderedCollections

/// `moonflow runs …`: the runs kept in the store (docs/cli.md).
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List, inspect, debug, stop and resume the runs kept in the store.",
        subcommands: [
            List.self, Show.self, History.self, Logs.self, Cancel.self, Terminate.self, Resume.self, ResumeCompensation.self, Pause.self,
            Unpause.self, Continue.self, Redrive.self, Rerun.self, Replay.self,
        ])

    /// `runs list [--status S] [--workflow W]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs, oldest first.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Option(help: "Only runs in this state (queued, running, waiting, completed, failed, …).") var status: String?
        @Option(help: "Only runs of this workflow.") var workflow: String?

        func validate() throws {
            if let status, RunStatus(rawValue: status) == nil {
                throw ValidationError("--status: unknown state '\(status)' (\(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }

        func run() async throws {
            if let remote = Composition.remote(global, storage) { return try await remote.listRuns(status: status, workflow: workflow, global.format) }
            let store = try await Composition.runtime(global, storage).store
            let wanted = status.flatMap(RunStatus.init(rawValue:))
            let runs = try await store.runs(status: wanted.map { [$0] }).filter { workflow == nil || $0.workflow == workflow }
            switch global.format {
            case .json:
                let list: [Value] = runs.map { run in
                    [
                        "run_id": .string(run.id), "workflow": .string(run.workflow), "status": .string(run.status.rawValue),
                        "queued_at": .string(run.queuedAt.iso8601), "finished_at": run.finishedAt.map { .string($0.iso8601) } ?? .null,
                        "next_timer": run.timers.first.map { .string($0.at.iso8601) } ?? .null,
                        "parent_run": run.parent.map { .string($0.runID) } ?? .null,
                    ]
                }
                print(Value.array(list).jsonString(pretty: true))
            case .text:
                TextTable.print(runs.map { [$0.id, $0.workflow, $0.status.rawValue, $0.queuedAt.iso8601] })
            }
        }
    }

    /// `runs show ID`: the execution report (docs/cli.md).
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a run's execution report.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                return try await remote.printReport(of: id, global.format, settle: false, exits: false)
            }
            let engine = try await Composition.runtime(global, storage).engine
            let report = try await Composition.known(id) { try await engine.report(id) }
            Composition.print(report, global.format)
        }
    }

    /// `runs history ID`: every journal entry, with the context before and after it.
    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a run's journal: time, type, activity, attempt and the context change of each entry.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String
        @Option(
            help: "Print only the changes of this value (repeatable): workflow.NAME[.key…] or steps.ACTIVITY.output[.key…], each with the entry, activity and time that changed it."
        )
        var watch: [String] = []

        func validate() throws {
            for path in watch { if case .failure(let error) = WatchPath.parse(path) { throw ValidationError("--watch: \(error)") } }
        }

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                let path = "/v1/runs/\(RemoteServer.segment(id))/history"
                guard watch.isEmpty else {
                    let answer = try await remote.call(.GET, path + "?" + watch.map { "watch=\(RemoteServer.segment($0))" }.joined(separator: "&"))
                    return Self.printChanges(answer["changes"]?.arrayValue ?? [], global.format)
                }
                let answer = try await remote.call(.GET, path)
                return remote.printItems(answer, key: "events", global.format) { event in
                    var line = "\(event["at_iso"]?.stringValue ?? "")  \(event["type"]?.stringValue ?? "")"
                    if let activity = event["activity"]?.stringValue { line += "  \(activity)" }
                    if let attempt = event["attempt"]?.intValue { line += "  attempt \(attempt)" }
                    return line
                }
            }
            let store = try await Composition.runtime(global, storage).store
            let journal = try await store.journal(of: id)
            guard var state = journal.first.flatMap(RunState.init(queuedBy:)) else {
                printError("error: unknown run '\(id)'")
                throw MoonflowExit.usage
            }
            if !watch.isEmpty { return Self.printChanges(WatchPath.changes(of: watch.compactMap { try? WatchPath.parse($0).get() }, in: journal), global.format) }
            var entries: [Value] = []
            for (index, event) in journal.enumerated() {
                let before = state.context
                if index > 0 { state.apply(event) }
                var entry: OrderedDictionary<String, Value> = [
                    "seq": .int(Int64(index + 1)), "at": .string(event.at.iso8601), "type": .string(event.type.rawValue),
                    "activity": event.activity.map(Value.string) ?? .null, "attempt": event.attempt.map { .int(Int64($0)) } ?? .null,
                    "status": .string(state.status.rawValue), "data": event.data,
                ]
                entry["context_before"] = .object(before)
                entry["context_after"] = .object(state.context)
                entries.append(.object(entry))
            }
            switch global.format {
            case .json: print(Value.array(entries).jsonString(pretty: true))
            case .text:
                for entry in entries {
                    var line = "\(entry["seq"]!.jsonString())  \(entry["at"]!.stringValue!)  \(entry["type"]!.stringValue!)"
                    if let activity = entry["activity"]?.stringValue { line += "  \(activity)" }
                    if let attempt = entry["attempt"]?.intValue { line += "  attempt \(attempt)" }
                    if let error = entry["data"]?["error"], let type = error["type"]?.stringValue {
                        line += "  \(type): \(error["message"]?.stringValue ?? "")"
                    }
                    if entry["type"] == "activity.log", let level = entry["data"]?["level"]?.stringValue {
                        line += "  \(level): \(entry["data"]?["message"]?.stringValue ?? "")"
                        if let fields = entry["data"]?["fields"] { line += "  \(fields.jsonString())" }
                    }
                    print(SafeText.escapingControls(line))
                    if entry["context_before"] != entry["context_after"] {
                        print("    context: \(entry["context_before"]!.jsonString()) -> \(entry["context_after"]!.jsonString())")
                    }
                }
            }
        }

        /// `--watch`: one line per change.
        static func printChanges(_ changes: [Value], _ format: OutputFormat) {
            switch format {
            case .json: print(Value.array(changes).jsonString(pretty: true))
            case .text:
                for change in changes {
                    var line = "\(change["seq"]!.jsonString())  \(change["at"]!.stringValue!)  \(change["path"]!.stringValue!)"
                    line += "  \(change["before"]!.jsonString()) -> \(change["after"]!.jsonString())  \(change["type"]!.stringValue!)"
                    if let activity = change["activity"]?.stringValue { line += "  \(activity)" }
                    if let attempt = change["attempt"]?.intValue { line += "  attempt \(attempt)" }
                    print(SafeText.escapingControls(line))
                }
            }
        }
    }

    /// `runs logs ID [--level L] [--activity A]`.
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a run's log from its journal: its scripts' log entries and the engine's lines (failures, retries, pauses…).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String
        @Option(help: "Only lines at this level or above: debug, info, warn, error.") var level = "debug"
        @Option(help: "Only the lines of this activity.") var activity: String?

        func validate() throws {
            guard RunLogLine.levels.contains(level) else {
                throw ValidationError("--level must be one of \(RunLogLine.levels.joined(separator: ", ")), not '\(level)'")
            }
        }

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                var query = "?level=\(level)"
                if let activity { query += "&activity=\(RemoteServer.segment(activity))" }
                let answer = try await remote.call(.GET, "/v1/runs/\(RemoteServer.segment(id))/logs" + query)
                return remote.printItems(answer, key: "lines", global.format) { line in
                    "\(line["at"]?.stringValue ?? "")  \((line["level"]?.stringValue ?? "").uppercased())  \(line["source"]?.stringValue ?? "")  "
                        + "\(line["activity"]?.stringValue ?? "-")  \(line["message"]?.stringValue ?? "")"
                }
            }
            let store = try await Composition.runtime(global, storage).store
            let journal = try await store.journal(of: id)
            guard !journal.isEmpty else {
                printError("error: unknown run '\(id)'")
                throw MoonflowExit.usage
            }
            let lines = RunLogLine.lines(of: journal, minimumLevel: level, activity: activity)
            switch global.format {
            case .json: print(Value.array(lines.map { $0.toValue() }).jsonString(pretty: true))
            case .text:
                for line in lines {
                    var text = "\(line.at.iso8601)  \(line.level.uppercased())  \(line.source)"
                    if let activity = line.activity { text += "  \(activity)" }
                    if let attempt = line.attempt { text += "#\(attempt)" }
                    text += "  \(line.message)"
                    if let fields = line.fields { text += "  \(fields.jsonString())" }
                    print(SafeText.escapingControls(text))
                }
            }
        }
    }

    /// `runs cancel ID`.
    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a run: what is in flight is cancelled, then completed activities are compensated.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                _ = try await remote.call(.POST, "/v1/runs/\(RemoteServer.segment(id))/cancel")
                return try await remote.printReport(of: id, global.format, exits: false)
            }
            let engine = try await Composition.runtime(global, storage).engine
            _ = try await Composition.known(id) { try await engine.cancel(id) }
            Composition.print(try await engine.report(id), global.format)
        }
    }

    /// `runs terminate ID`.
    struct Terminate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a run at once, without compensation.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                _ = try await remote.call(.POST, "/v1/runs/\(RemoteServer.segment(id))/terminate")
                return try await remote.printReport(of: id, global.format, exits: false)
            }
            let engine = try await Composition.runtime(global, storage).engine
            _ = try await Composition.known(id) { try await engine.terminate(id) }
            Composition.print(try await engine.report(id), global.format)
        }
    }

    /// `runs resume [ID]`: what a restart does.
    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drive every unfinished run (or one) in this process, as a restart does.",
            discussion: """
                Attempts that were running when the engine stopped run again (same idempotency key); \
                backoffs, sleeps and task expiry fire at their stored times; queued runs start in queue \
                order; compensations continue with the pending ones; notifications runs queued and no \
                process delivered are delivered. Runs are driven at most \
                concurrency.max_workflows at a time (moonflow.yaml; default 1). Exit status: 0 every run \
                completed (or none was unfinished), 3 some wait on a human, 1 otherwise.
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "Only this run.") var id: String?

        func run() async throws {
            let runtime = try await Composition.runtime(global, storage)
            let (engine, store) = (runtime.engine, runtime.store)
            var results: [(RunID, Result<RunStatus, any Error>)]
            if let id {
                results = [(id, .success(try await Composition.known(id) { try await engine.drive(id) }))]
            } else {
                let limit = runtime.config.concurrency?.maxWorkflows ?? 1
                let progress = ProgressLine()
                results = try await engine.resumeAll(concurrency: limit) { done, total in
                    progress.show("resuming runs: \(done)/\(total)")
                }.map { ($0.runID, $0.outcome) }
                progress.clear()
            }
            var lines: [Value] = []
            var statuses: [RunStatus] = []
            for index in results.indices {
                let (runID, outcome) = results[index]
                switch outcome {
                case .success:
                    let status = try await runtime.waitForTimers(runID).status
                    statuses.append(status)
                    lines.append(["run_id": .string(runID), "status": .string(status.rawValue)])
                case .failure(let error):
                    statuses.append(.failed)
                    if let store = store as? any DurableRunStore {
                        try await store.recordDeadLetter(runID: runID, reason: "\(error)", at: engine.clock.now)
                    }
                    lines.append(["run_id": .string(runID), "error": .string(SafeText.errorMessage("\(error)"))])
                }
            }
            switch global.format {
            case .json: print(Value.array(lines).jsonString(pretty: true))
            case .text:
                TextTable.print(lines.map { [$0["run_id"]!.stringValue!, $0["status"]?.stringValue ?? "error: \($0["error"]!.stringValue!)"] })
            }
            // Recovery delivers what runs queued for their channels and no process delivered.
            await runtime.outbox.deliverPending(of: id.map { [$0] })
            if statuses.allSatisfy({ $0 == .completed }) { return }
            throw statuses.allSatisfy({ $0 == .completed || $0 == .waiting }) ? MoonflowExit.waiting : MoonflowExit.failure
        }
    }

    /// `runs resume-compensation ID`.
    struct ResumeCompensation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "resume-compensation",
            abstract: "Continue a compensation_failed run from its failed compensation (completed ones never re-run).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String
        @Flag(help: "Re-pin the run to the project's current definition of its workflow (fixed compensation scripts); recorded in its journal.")
        var latest = false

        func run() async throws {
            if let remote = Composition.remote(global, storage) {
                _ = try await remote.call(.POST, "/v1/runs/\(RemoteServer.segment(id))/resume-compensation", ["latest": Value.bool(latest)])
                return try await remote.printReport(of: id, global.format)
            }
            let runtime = try await Composition.runtime(global, storage)
            let (engine, store) = (runtime.engine, runtime.store)
            let status: RunStatus
            do {
                var pinned: PinnedWorkflow?
                if latest, let state = try await store.state(of: id) {
                    pinned = try Composition.loadWorkflow(
                        state.workflow, project: global.projectURL, connections: Set(runtime.config.connections.keys)
                    ).pinned
                }
                status = try await Composition.known(id) { try await engine.resumeCompensation(id, latest: pinned) }
            } catch let error as EngineError {
                printError("error: \(error)")
                throw MoonflowExit.usage
            }
            Composition.print(try await engine.report(id), global.format)
            if status != .compensated { throw MoonflowExit.failure }
        }
    }
}

extension Composition {
    /// Runs `body`; an unknown run is a usage error (exit 2).
    static func known<T>(_ id: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch EngineError.unknownRun {
            printError("error: unknown run '\(id)'")
            throw MoonflowExit.usage
        }
    }

    static func print(_ report: ExecutionReport, _ format: OutputFormat) {
        switch format {
        case .json: Swift.print(report.toValue().jsonString(pretty: true))
        case .text: Swift.print(report.renderText())
        }
    }
}
