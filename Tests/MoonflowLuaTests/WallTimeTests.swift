import Foundation
import MoonflowLua
import MoonflowModel
import Synchronization
import Testing

/// Security issue 12, item 6: every execution has a wall-time limit, and work the instruction
/// count does not see (metamethod resolution, long string comparisons, host built-ins) cannot
/// carry a script past it or past its instruction budget; expressions do not queue behind scripts.
@Suite struct WallTimeTests {
    /// Seconds `body` took.
    func timed<T>(_ body: () async -> T) async -> (T, Double) {
        let start = ContinuousClock.now
        let value = await body()
        let elapsed = ContinuousClock.now - start
        return (value, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// Runs `source` on a sandbox of its own, timing the synchronous call itself: a timing taken
    /// around an `await` also counts waits for the cooperative pool, which a busy test process
    /// stretches by seconds.
    func runTimed(_ source: String, limits: ScriptLimits) throws -> (Result<ScriptOutcome, ActivityFailure>, Double) {
        let sandbox = try LuaSandbox()
        let start = ContinuousClock.now
        let result: Result<ScriptOutcome, ActivityFailure>
        do throws(ActivityFailure) {
            result = .success(try sandbox.run(ScriptInvocation(chunk: ScriptChunk(source: source, name: "t.lua"), limits: limits)))
        } catch {
            result = .failure(error)
        }
        let elapsed = ContinuousClock.now - start
        return (result, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    @Test func defaultsAreSixtySecondsForScriptsAndOneForExpressions() {
        #expect(LuaRunner.defaultTimeout == .seconds(60))
        #expect(LuaRunner.defaultExpressionLimits.timeout == .seconds(1))
    }

    /// A script with no timeout of its own runs under the runner's default.
    @Test func scriptsWithoutATimeoutGetTheDefault() async throws {
        let runner = LuaRunner(threads: 1, defaultTimeout: .milliseconds(300))
        // The message names the runner's default: the loop was stopped by it, not by anything else.
        let result = await run("while true do end", limits: ScriptLimits(instructions: .max, timeout: nil), runner: runner)
        #expect(result.failure?.type == .timeout)
        #expect(result.failure?.message.contains("0.3 seconds") == true, "\(String(describing: result.failure))")
    }

    /// A table whose `__call` is itself made Lua's call machinery loop for minutes without running
    /// one VM instruction.
    @Test func selfCallingTablesAreRefused() async throws {
        // Refused, not timed out: the old loop ran until the 5 s deadline and failed with Timeout.
        let result = try runTimed("local t = {} setmetatable(t, {__call = t}) return pcall(t)", limits: ScriptLimits(timeout: .seconds(5))).0
        #expect(result.failure?.type == .sandboxViolation, "\(String(describing: result.failure))")
        #expect(await run("local t = setmetatable({}, {__call = function(self, x) return x + 1 end}) return t(1)").value?.output == 2)
        #expect(await run("local t = setmetatable({}, {__call = setmetatable({}, {})}) return 1").failure?.type == .sandboxViolation)
    }

    /// Comparing two long strings with embedded zeros is one instruction that takes ~70ms; the
    /// deadline still holds within 10% + 50ms (plus slack for a loaded machine).
    @Test func deadlineHoldsAcrossExpensiveInstructions() async throws {
        let limits = ScriptLimits(instructions: .max, timeout: .milliseconds(500))
        let (result, seconds) = try runTimed("local a = ('\\0'):rep(8 << 20) local b = a .. '' while true do local _ = a < b end", limits: limits)
        #expect(result.failure?.type == .timeout)
        // 10% + 50ms, and 150ms of slack for a loaded machine (it was 14s over).
        #expect(seconds < 0.5 * 1.1 + 0.05 + 0.15, "took \(seconds)s")
    }

    /// `table.sort` runs its whole loop in C: a sort of 2M numbers ran 1s past the deadline.
    @Test func deadlineHoldsInLongSorts() throws {
        let limits = ScriptLimits(instructions: .max, timeout: .milliseconds(400))
        let (result, seconds) = try runTimed("local t = {} for i = 1, 2e6 do t[i] = (i * 7919) % 1000003 end table.sort(t) return 1", limits: limits)
        #expect(result.failure?.type == .timeout, "\(String(describing: result))")
        #expect(seconds < 0.4 * 1.1 + 0.05 + 0.15, "took \(seconds)s")
        #expect(try runTimed("local t = {} for i = 1, 1e5 do t[i] = -i end table.sort(t, function(a, b) return a > b end) table.sort(t) return t[1] .. ',' .. t[#t]", limits: ScriptLimits()).0.value?.output == "-100000,-1")
    }

    /// `hash.sha256` of 30MB used to cost one instruction: now its bytes are charged.
    @Test func hostBuiltinsAreChargedByBytes() async throws {
        // Three hashes' bytes (a byte is a quarter instruction) pass the instruction limit; the timeout
        // stops the loop only if they are not charged (a debug build beside the whole suite took over
        // 20 s for the thirteen hashes of a 100M limit).
        let limits = ScriptLimits(memory: 64 << 20, instructions: 20_000_000, timeout: .seconds(120))
        let result = await run("local s = ('x'):rep(30 << 20) while true do hash.sha256(s) end", limits: limits)
        #expect(result.failure?.type == .luaInstructionLimit, "\(String(describing: result.failure))")
    }

    /// A script that holds every script thread does not delay expressions: the expression is
    /// answered while the script still runs (it would run for 60 s if nothing cancelled it).
    @Test func expressionsDoNotQueueBehindScripts() async throws {
        let runner = LuaRunner(threads: 1)
        let busyEnded = Mutex(false)
        let busy = Task {
            let result = await run("while true do end", limits: ScriptLimits(instructions: .max, timeout: .seconds(60)), runner: runner)
            busyEnded.withLock { $0 = true }
            return result
        }
        try await Task.sleep(for: .milliseconds(100))
        let value: Result<Value, ActivityFailure>
        do throws(ActivityFailure) {
            value = .success(try await runner.evaluate(.template(Template(parts: [.expression(Expression("1 + 1"))])), scope: [:]))
        } catch { value = .failure(error) }
        #expect(value.value == 2, "\(String(describing: value.failure))")
        #expect(busyEnded.withLock { $0 } == false, "the expression waited for the script to end")
        busy.cancel()
        #expect(await busy.value.failure?.type == .cancelled)
    }
}
