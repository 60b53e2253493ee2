import Foundation
package import MoonflowModel

/// The Lua implementation of `ScriptRunning`: code actions and expressions run on dedicated
/// threads, each with its own sandboxed state. Code actions and expressions have separate pools,
/// so scripts that hold every script thread (each for up to its timeout) never delay the
/// evaluation of `${ }` expressions, and the reverse. `run` and `evaluate` suspend until the pool
/// thread is done; cancelling the calling task stops the script (`Cancelled`) at its next hook, and
/// the timeout (`ScriptLimits.timeout`, else `defaultTimeout`) ends it with `Timeout`, counted
/// from the call.
///
/// A process-isolation runner can replace this type behind `ScriptRunning` without the engine
/// noticing: everything crosses this boundary as `Value`s and `ActivityFailure`s.
package final class LuaRunner: ScriptRunning {
    private let pool: LuaThreadPool
    private let expressionPool: LuaThreadPool
    /// Limits of `${ }` expressions (they are small by nature).
    package let expressionLimits: ScriptLimits
    /// Wall time of a code action whose limits name none (moonflow.yaml's `resources.timeout`).
    package let defaultTimeout: Duration

    package static let defaultExpressionLimits = ScriptLimits(memory: 16 << 20, instructions: 10_000_000, timeout: .seconds(1))
    /// No execution runs without a wall-time limit: 60s for code actions unless configured.
    package static let defaultTimeout: Duration = .seconds(60)

    /// - Parameters:
    ///   - threads: code-action threads; defaults to the number of active cores.
    ///   - expressionThreads: expression threads (their own queue).
    ///   - stackSize: stack of each pool thread (Lua needs well over the 512KB default of secondary threads).
    ///   - defaultTimeout: wall time of a code action whose limits name none.
    ///   - testLedger: the test-only `test.ledger` seam; by default on exactly when
    ///     `MOONFLOW_TEST_LEDGER` is set when the runner is built.
    package init(
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, expressionThreads: Int = 2, stackSize: Int = 8 << 20,
        expressionLimits: ScriptLimits = LuaRunner.defaultExpressionLimits, defaultTimeout: Duration = LuaRunner.defaultTimeout,
        testLedger: LuaTestLedger? = LuaTestLedger.fromEnvironment()
    ) {
        pool = LuaThreadPool(threads: threads, stackSize: max(stackSize, 1 << 20), testLedger: testLedger, name: "moonflow-lua")
        expressionPool = LuaThreadPool(threads: expressionThreads, stackSize: max(stackSize, 1 << 20), testLedger: testLedger, name: "moonflow-expr")
        var expressionLimits = expressionLimits
        if expressionLimits.timeout == nil { expressionLimits.timeout = Self.defaultExpressionLimits.timeout }
        self.expressionLimits = expressionLimits
        self.defaultTimeout = defaultTimeout
    }

    deinit {
        pool.shutdown()
        expressionPool.shutdown()
    }

    package func run(_ invocation: ScriptInvocation) async throws(ActivityFailure) -> ScriptOutcome {
        var invocation = invocation
        let timeout = invocation.limits.timeout ?? defaultTimeout
        invocation.limits.timeout = timeout
        let deadline = LuaClock.deadline(after: timeout)
        return try await onPool(pool, stop: invocation.stop) { [invocation] sandbox, interrupt throws(ActivityFailure) in
            try sandbox.run(invocation, interrupt: interrupt, deadline: deadline)
        }
    }

    package func evaluate(_ template: ValueTemplate, scope: Value) async throws(ActivityFailure) -> Value {
        if case .value(let value) = template { return value }
        let limits = expressionLimits
        let deadline = limits.timeout.map(LuaClock.deadline(after:))
        return try await onPool(expressionPool) { sandbox, interrupt throws(ActivityFailure) in
            try sandbox.evaluate(template, scope: scope, limits: limits, interrupt: interrupt, deadline: deadline)
        }
    }

    /// The threads the engine's run drives may prefer (`ScriptRunning.taskExecutor`): successive
    /// calls hand out the code-action threads in turn.
    package func taskExecutor() -> (any TaskExecutor)? { pool.nextLaneExecutor() }

    package var honoursStop: Bool { true }

    /// Runs `body` with a sandbox: in place when the caller already runs on a thread of this
    /// runner (a task that prefers it), else on the next free thread of `pool`.
    private func onPool<T: Sendable>(
        _ pool: LuaThreadPool, stop: ScriptStop? = nil, _ body: @escaping @Sendable (LuaSandbox, LuaInterrupt) throws(ActivityFailure) -> T
    ) async throws(ActivityFailure) -> T {
        let interrupt = LuaInterrupt()
        if let stop, stop.install({ interrupt.cancel() }) { interrupt.cancel() }
        defer { stop?.uninstall() }
        let result: Result<T, ActivityFailure> = await withTaskCancellationHandler {
            if let context = LuaThreadPool.current, context.core === self.pool.core || context.core === expressionPool.core {
                context.core.offerWork(from: context.index)
                return context.worker.perform { sandbox throws(ActivityFailure) in try body(sandbox, interrupt) }
            }
            return await withCheckedContinuation { continuation in
                pool.submit { worker in
                    continuation.resume(returning: worker.perform { sandbox throws(ActivityFailure) in try body(sandbox, interrupt) })
                }
            }
        } onCancel: {
            interrupt.cancel()
        }
        return try result.get()
    }
}
