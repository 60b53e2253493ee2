import Synchronization
package import MoonflowModel

/// The `ScriptRunning` the runtime hands the engine: each code action runs where its
/// `ScriptLimits.isolation` says — in process (`LuaRunner`) or in a sandbox helper
/// (`ProcessScriptRunner`, started at the first such action) — and expressions always in process
/// (they are read-only and bounded to a second). Runs prefer the in-process runner's threads,
/// where a process-isolated action waits on its helper's socket without a hand-off.
package final class IsolatingRunner: ScriptRunning {
    package let inProcess: LuaRunner
    private let settings: ProcessScriptRunner.Settings
    private let helpers = Mutex<ProcessScriptRunner?>(nil)

    package init(inProcess: LuaRunner = LuaRunner(), helpers settings: ProcessScriptRunner.Settings = .init()) {
        self.inProcess = inProcess
        var settings = settings
        settings.defaultTimeout = inProcess.defaultTimeout
        self.settings = settings
    }

    /// The helper pool, started on first use.
    package var process: ProcessScriptRunner {
        helpers.withLock { runner in
            if let runner { return runner }
            let made = ProcessScriptRunner(settings: settings)
            runner = made
            return made
        }
    }

    package func run(_ invocation: ScriptInvocation) async throws(ActivityFailure) -> ScriptOutcome {
        switch invocation.limits.isolation {
        case .inProcess: try await inProcess.run(invocation)
        case .process: try await process.run(invocation)
        }
    }

    package func evaluate(_ template: ValueTemplate, scope: Value) async throws(ActivityFailure) -> Value {
        try await inProcess.evaluate(template, scope: scope)
    }

    package var honoursStop: Bool { true }

    package func taskExecutor() -> (any TaskExecutor)? { inProcess.taskExecutor() }
}
