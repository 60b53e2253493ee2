import Foundation
import MoonflowLua
import MoonflowModel
import Testing

/// Peak resident memory of this process, reset so the next reading covers only what follows
/// (Linux: writing 5 to clear_refs resets VmHWM).
enum ResidentMemory {
    static func resetPeak() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = write(fd, "5", 1)
        close(fd)
    }

    /// Peak RSS belongs to the whole test process, so suites running beside these would count:
    /// the RSS bounds are checked only in a process of their own (`make test` runs each such test
    /// alone with MOONFLOW_MEMORY_TESTS=1); the outcome is checked in every run.
    static var measured: Bool { ProcessInfo.processInfo.environment["MOONFLOW_MEMORY_TESTS"] == "1" }

    /// VmHWM in bytes (0 where /proc is missing).
    static var peak: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        return 0
    }
}

/// Security issue 12, item 2: every copy a script makes the host hold (emitted events, logs,
/// error texts, outputs, context writes) counts against one per-execution host budget
/// (`ScriptLimits.hostMemory`); beyond it the attempt fails with `LuaMemoryLimit`, never the process.
@Suite(.serialized) struct HostBudgetTests {
    let limits = ScriptLimits(memory: 64 << 20, instructions: 1_000_000_000, timeout: .seconds(60))

    /// 100 × 4MB used to succeed and hand the engine ~400MB of events for one completion.
    @Test func emittingBeyondTheBudgetFailsTheAttempt() async throws {
        let runner = LuaRunner(threads: 1)
        ResidentMemory.resetPeak()
        let before = ResidentMemory.peak
        let result = await run("local s = ('x'):rep(4 << 20) for i = 1, 100 do emit('big', {s = s}) end return 1", limits: limits, runner: runner)
        #expect(result.failure?.type == .luaMemoryLimit, "\(String(describing: result.failure))")
        #expect(result.failure?.message.contains("host memory") == true)
        let grown = ResidentMemory.peak - before
        if ResidentMemory.measured { #expect(grown < 256 << 20, "peak RSS grew by \(grown >> 20)MB") }
        #expect(await run(cleanlinessProbe, runner: runner).value?.output == cleanProbeResult)
    }

    /// The same 15MB string emitted 600 times (pcall cannot swallow the trip) used to abort the process.
    @Test func emittingFarBeyondTheBudgetInALoopKeepsTheProcessAndItsMemory() async throws {
        let runner = LuaRunner(threads: 1)
        ResidentMemory.resetPeak()
        let before = ResidentMemory.peak
        let result = await run("local s = ('x'):rep(15 << 20) for i = 1, 600 do pcall(emit, 'big', s) end return 1", limits: limits, runner: runner)
        #expect(result.failure?.type == .luaMemoryLimit, "\(String(describing: result.failure))")
        let grown = ResidentMemory.peak - before
        if ResidentMemory.measured { #expect(grown < 256 << 20, "peak RSS grew by \(grown >> 20)MB") }
    }

    /// Retained copies add up: events, then logs, then the output share one budget.
    @Test func retainedCopiesShareOneBudget() async throws {
        let small = ScriptLimits(memory: 64 << 20, instructions: 1_000_000_000, timeout: .seconds(60), hostMemory: 1 << 20)
        let fits = await run("local s = ('x'):rep(300000) emit('a', s) emit('b', s) return 1", limits: small)
        #expect(fits.failure == nil, "\(String(describing: fits.failure))")
        let over = await run("local s = ('x'):rep(300000) emit('a', s) emit('b', s) return s .. s", limits: small)
        #expect(over.failure?.type == .luaMemoryLimit, "\(String(describing: over.failure))")
        let manyEvents = await run("local s = ('x'):rep(300000) for i = 1, 10 do pcall(emit, 'e' .. i, s) end", limits: small)
        #expect(manyEvents.failure?.type == .luaMemoryLimit)
    }

    /// A huge error string is cut before the host copies it.
    @Test func hugeErrorTextsAreCutBeforeTheCopy() async throws {
        let failure = try #require(await run("error(('x'):rep(20 << 20))", limits: limits).failure)
        #expect(failure.type == .activityError)
        #expect(failure.message.utf8.count <= 16 << 10)
        let typed = try #require(await run("fail('Declined', ('x'):rep(20 << 20), {s = ('y'):rep(10 << 20)})", limits: limits).failure)
        #expect(typed.type == "Declined")
        #expect(typed.message.utf8.count <= 16 << 10)
        #expect(typed.details == nil)
        // A path in an error names at most 64 bytes of a key.
        let path = try #require(await run("return {[('k'):rep(1 << 20)] = {f = type}}", limits: limits).failure)
        #expect(path.type == .sandboxViolation)
        #expect(path.message.utf8.count < 200, "\(path.message.utf8.count) bytes")
    }

    /// Built-ins that copy refuse results beyond what remains of the budget, before the work.
    @Test func builtinCopiesAreBoundedByTheBudget() async throws {
        #expect(await run("local s = ('x'):rep(20 << 20) return #base64.encode(s)", limits: limits).failure?.type == .luaMemoryLimit)
        #expect(await run("local s = ('x'):rep(20 << 20) return #hex.encode(s)", limits: limits).failure?.type == .luaMemoryLimit)
        #expect(await run("local s = ('x'):rep(20 << 20) return #json.encode({s})", limits: limits).failure?.type == .luaMemoryLimit)
        #expect(await run("local s = ('x'):rep(1 << 20) return #base64.encode(s) + #hex.encode(s) + #json.encode({s})", limits: limits).value?.output
            == .int(1_398_104 + 2_097_152 + 1_048_580))
        // Logging keeps at most its own share and stops reading fields once it is full.
        let logged = try #require(await run("local s = ('x'):rep(200000) for i = 1, 200 do log.info('x', {s = s}) end return 1", limits: limits).value)
        #expect(logged.logs.count < 10)
    }
}
