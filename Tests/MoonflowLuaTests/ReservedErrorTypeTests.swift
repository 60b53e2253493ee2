import MoonflowLua
import MoonflowModel
import Testing

/// Security issue 12, item 15: the engine's own error types cannot be raised by scripts (a script
/// raising `WorkerCrashed` was counted as a crash); doing so is a `SandboxViolation` naming the type.
@Suite struct ReservedErrorTypeTests {
    static let reserved: [String] = [
        "WorkerCrashed", "Cancelled", "Timeout", "ActivityTimeout", "CircuitOpen", "BulkheadFull", "BulkheadTimeout",
        "QueueFull", "QueueTimeout", "ManualTaskTimeout", "SandboxViolation", "LuaMemoryLimit", "LuaInstructionLimit",
        "LuaPatternBudget", "SchemaInvalid", "CompensationFailed", "StorageFull", "StorageBusy", "StorageSomethingNew", "LuaHostLimit",
    ]

    @Test(arguments: reserved)
    func failWithAReservedType(_ type: String) async throws {
        let failure = try #require(await run("fail('\(type)', 'fake')").failure)
        #expect(failure.type == .sandboxViolation)
        #expect(failure.message.contains("'\(type)'"), "\(failure.message)")
    }

    @Test(arguments: reserved)
    func errorTableWithAReservedType(_ type: String) async throws {
        let failure = try #require(await run("error({type = '\(type)', message = 'fake'})").failure)
        #expect(failure.type == .sandboxViolation)
        #expect(failure.message.contains("'\(type)'"), "\(failure.message)")
    }

    @Test func pcallCannotHideAReservedFail() async throws {
        #expect(await run("pcall(fail, 'WorkerCrashed') return 1").failure?.type == .sandboxViolation)
    }

    @Test func userTypesAndActivityErrorStayAllowed() async throws {
        #expect(await run("fail('PaymentDeclined')").failure?.type == "PaymentDeclined")
        #expect(await run("error({type = 'ActivityError', message = 'x'})").failure?.type == .activityError)
        #expect(await run("error({type = 'Timeouts'})").failure?.type == "Timeouts")
        #expect(await run("local ok, e = pcall(error, {type = 'Timeout'}) return type(e)").value?.output == "table")
    }
}
