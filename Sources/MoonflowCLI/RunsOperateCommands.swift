import ArgumentParser
import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime

/// `moonflow runs pause|unpause|continue|redrive|rerun` (docs/operations.md): each prints the
/// run's report afterwards. Exit status: 0 the run completed, 3 it is paused or waits, 1 it ended
/// otherwise, 2 the run is unknown or its state does not allow the action (nothing changed).
extension RunsCommand {
    /// Posts `action` (with `body`) to a running server that owns the store, or does it on the store
    /// with `local`; prints the run's report either way.
    static func operate(
        _ id: String, _ action: String, _ global: GlobalOptions, _ storage: StoreOptions, body: Value? = nil,
        local: (OperatorClient) async throws -> RunID
    ) async throws {
        if let remote = Composition.remote(global, storage) {
            _ = try await remote.call(.POST, "/v1/runs/\(RemoteServer.segment(id))/\(action)", body)
            return try await remote.printReport(of: id, global.format)
        }
        let client = try await OperatorClient.make(global, storage)
        // The spans of what it drives are exported before it exits (moonflow.yaml `tracing`).
        try await client.runtime.exportingTraces { try await client.finish(try await local(client), global.format) }
    }

    /// `runs pause ID`.
    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause a running or waiting run: it starts no new activity (running ones finish, timers keep their times).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String

        func run() async throws {
            try await RunsCommand.operate(id, "pause", global, storage) { try await $0.pause(id) }
        }
    }

    /// `runs unpause ID`.
    struct Unpause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a paused run go on (to its next breakpoint, if it has any).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String

        func run() async throws {
            try await RunsCommand.operate(id, "unpause", global, storage) { try await $0.unpause(id, step: false) }
        }
    }

    /// `runs continue ID [--step]`.
    struct Continue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Continue a paused run to its next breakpoint, or with --step for exactly one more activity.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String
        @Flag(help: "Run exactly one more activity, then pause again.") var step = false

        func run() async throws {
            try await RunsCommand.operate(id, "continue", global, storage, body: ["step": .bool(step)]) {
                try await $0.unpause(id, step: step)
            }
        }
    }

    /// `runs redrive ID [--latest]`.
    struct Redrive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Continue a failed, timed_out or cancelled run from where it stopped (completed steps are kept, never re-run).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String
        @Flag(help: "Re-pin the run to the project's current definition of its workflow (a fixed script); recorded in its journal.")
        var latest = false

        func run() async throws {
            try await RunsCommand.operate(id, "redrive", global, storage, body: ["latest": .bool(latest)]) {
                try await $0.redrive(id, latest: latest)
            }
        }
    }

    /// `runs rerun ID --from ACTIVITY [--input JSON] [--latest]`.
    struct Rerun: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a new run linked to this one (rerun_of) in which the activities before --from take their recorded results.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String
        @Option(help: "The activity to run again from: the activities the graph places before it are not executed.") var from: String
        @Option(help: "The new run's input, as JSON (default: the original's).") var input: String?
        @Flag(help: "Run under the project's current definition of the workflow instead of the original's.") var latest = false

        func run() async throws {
            var value: Value?
            if let input {
                guard let parsed = try? Value(json: input), parsed.objectValue != nil else {
                    printError("error: --input must be a JSON object")
                    throw MoonflowExit.usage
                }
                value = parsed
            }
            if let remote = Composition.remote(global, storage) {
                let answer = try await remote.call(
                    .POST, "/v1/runs/\(RemoteServer.segment(id))/rerun", ["from": .string(from), "input": value ?? .null, "latest": .bool(latest)])
                return try await remote.printReport(of: answer["run_id"]?.stringValue ?? "", global.format)
            }
            let client = try await OperatorClient.make(global, storage)
            try await client.runtime.exportingTraces {
                try await client.finish(try await client.rerun(id, from: from, input: value, latest: latest), global.format)
            }
        }
    }
}

extension RunsCommand {
    /// `runs replay ID ACTIVITY [--attempt N] [--script CODE|FILE]`.
    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run an activity's recorded attempt again, offline, and print how its outcome differs.",
            discussion: """
                The code runs in the sandbox with the attempt's input, context, steps and activity fields, \
                and the recorded answers of time.now, time.unix, uuid, math.random's seeds and \
                http.request (no service is called), so an unchanged script reproduces its output. \
                --script tries other code (a file, or the code itself) against the same execution. Nothing \
                is written. Exit status: 0 the same output and context writes (or error), 1 different, 2 an \
                unknown run or activity, or one that never ran.
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var storage: StoreOptions
        @Argument(help: "The run id.") var id: String
        @Argument(help: "The activity (a code action).") var activity: String
        @Option(help: "The attempt to replay (default: the last that ran).") var attempt: Int?
        @Option(help: "Code to run instead of the activity's: a file, or the Lua code itself.") var script: String?

        func run() async throws {
            let runtime = try await Composition.runtime(global, storage)
            var chunk: ScriptChunk?
            if let script {
                let file = URL(fileURLWithPath: script, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
                if let data = FileManager.default.contents(atPath: file.path) {
                    chunk = ScriptChunk(source: String(decoding: data, as: UTF8.self), name: script)
                } else {
                    chunk = ScriptChunk(source: script, name: "--script")
                }
            }
            let result: ReplayResult
            do {
                result = try await Composition.known(id) { try await runtime.engine.replay(id, activity: activity, attempt: attempt, script: chunk) }
            } catch let error as EngineError {
                printError("error: \(error)")
                throw MoonflowExit.usage
            }
            switch global.format {
            case .json: print(result.toValue().jsonString(pretty: true))
            case .text:
                print("replay of '\(result.activity)' attempt \(result.attempt): \(result.isEqual ? "equal" : "different")")
                for line in result.differences { print(SafeText.escapingControls("  " + line)) }
                if result.truncated { print("  (the recording was cut at its bound: this replay cannot be exact)") }
            }
            if !result.isEqual { throw MoonflowExit.failure }
        }
    }
}

/// Where an operator command acts: the engine over the store in this process.
struct OperatorClient {
    let runtime: Runtime
    let project: URL

    static func make(_ global: GlobalOptions, _ storage: StoreOptions) async throws -> OperatorClient {
        OperatorClient(runtime: try await Composition.runtime(global, storage, exportsTraces: true), project: global.projectURL)
    }

    var engine: Engine { runtime.engine }

    func pause(_ id: String) async throws -> RunID {
        try await refusing(id) { _ = try await engine.pause(id) }
        return id
    }

    func unpause(_ id: String, step: Bool) async throws -> RunID {
        try await refusing(id) { _ = try await engine.unpause(id, step: step) }
        return id
    }

    func redrive(_ id: String, latest: Bool) async throws -> RunID {
        try await refusing(id) { _ = try await engine.redrive(id, latest: try await current(id, latest)) }
        return id
    }

    func rerun(_ id: String, from: String, input: Value?, latest: Bool) async throws -> RunID {
        try await refusing(id) {
            let started = try await engine.rerun(id, from: from, input: input, latest: try await current(id, latest))
            _ = try await engine.drive(started.runID)
            return started.runID
        }
    }

    /// The project's current definition of the run's workflow, for `--latest`.
    private func current(_ id: String, _ latest: Bool) async throws -> PinnedWorkflow? {
        guard latest, let state = try await runtime.store.state(of: id) else { return nil }
        return try Composition.loadWorkflow(state.workflow, project: project, connections: Set(runtime.config.connections.keys)).pinned
    }

    /// Prints the run's report once its timers have been waited for, and exits as its status says.
    func finish(_ id: RunID, _ format: OutputFormat) async throws {
        let report = try await runtime.waitForTimers(id)
        Composition.print(report, format)
        await runtime.outbox.deliverPending(of: [id])
        switch report.status {
        case .completed: return
        case .paused, .waiting, .queued: throw MoonflowExit.waiting
        default: throw MoonflowExit.failure
        }
    }

    /// Runs `body`; an unknown run, or an action its state refuses, is a usage error (exit 2).
    private func refusing<T>(_ id: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await Composition.known(id, body)
        } catch let error as EngineError {
            printError("error: \(error)")
            throw MoonflowExit.usage
        }
    }
}
