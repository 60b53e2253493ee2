import Foundation
import MoonflowModel

/// The Lua implementation of `ScriptRunning`: code actions and expressions run on a small pool
/// of dedicated threads, each with its own sandboxed state. `run` and `evaluate` suspend until the
/// pool thread is done; cancelling the calling task stops the script (`Cancelled`) at its next
/// hook, and `ScriptLimits.timeout` ends it with `Timeout`, counted from the call.
///
/// A process-isolation runner can replace this type behind `ScriptRunning` without the engine
/// noticing: everything crosses this boundary as `Value`s and `ActivityFailure`s.
public final class LuaRunner: ScriptRunning {
    private let pool: LuaThreadPool
    /// Limits of `${ }` expressions (they are small by nature).
    public let expressionLimits: ScriptLimits

    public static let defaultExpressionLimits = ScriptLimits(memory: 16 << 20, instructions: 10_000_000, timeout: .seconds(1))

    /// - Parameters:
    ///   - threads: pool size; defaults to the number of active cores.
    ///   - stackSize: stack of each pool thread (Lua needs well over the 512KB default of secondary threads).
    ///   - testLedger: the test-only `test.ledger` seam; by default on exactly when
    ///     `MOONFLOW_TEST_LEDGER` is set when the runner is built.
    public init(
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, stackSize: Int = 8 << 20,
        expressionLimits: ScriptLimits = LuaRunner.defaultExpressionLimits,
        testLedger: LuaTestLedger? = LuaTestLedger.fromEnvironment()
    ) {
        pool = LuaThreadPool(threads: threads, stackSize: max(stackSize, 1 << 20), testLedger: testLedger)
        self.expressionLimits = expressionLimits
    }

    deinit { pool.shutdown() }

    public func run(_ invocation: ScriptInvocation) async throws(ActivityFailure) -> ScriptOutcome {
        let deadline = invocation.limits.timeout.map(LuaClock.deadline(after:))
        return try await onPool { sandbox, interrupt throws(ActivityFailure) in
            try sandbox.run(invocation, interrupt: interrupt, deadline: deadline)
        }
    }

    public func evaluate(_ template: ValueTemplate, scope: Value) async throws(ActivityFailure) -> Value {
        if case .value(let value) = template { return value }
        let limits = expressionLimits
        let deadline = limits.timeout.map(LuaClock.deadline(after:))
        return try await onPool { sandbox, interrupt throws(ActivityFailure) in
            try sandbox.evaluate(template, scope: scope, limits: limits, interrupt: interrupt, deadline: deadline)
        }
    }

    private func onPool<T: Sendable>(
        _ body: @escaping @Sendable (LuaSandbox, LuaInterrupt) throws(ActivityFailure) -> T
    ) async throws(ActivityFailure) -> T {
        let interrupt = LuaInterrupt()
        let result: Result<T, ActivityFailure> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
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
