import Foundation
import MoonflowLua
import MoonflowModel
import Testing

/// The crash-test seam `test.ledger(tag)` (docs/sandbox.md, "Test seam").
@Suite struct TestLedgerTests {
    func ledgerPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-ledger-\(UUID().uuidString).jsonl").path
    }

    func lines(_ path: String) throws -> [Value] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasSuffix("\n"))
        return try text.split(separator: "\n").map { try Value(json: Array($0.utf8), maxDepth: 8) }
    }

    @Test func appendsOneLinePerCallBeforeReturning() async throws {
        let path = ledgerPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let runner = LuaRunner(threads: 1, testLedger: LuaTestLedger(path: path))
        // Read as soon as the run returns: every line is already complete in the file.
        let outcome = try #require(await run("test.ledger('charged') test.ledger('after') return type(test)", runner: runner).value)
        #expect(outcome.output == "table")
        let written = try lines(path)
        #expect(written.count == 2)
        #expect(written.map { $0["tag"] } == ["charged", "after"])
        for line in written {
            #expect(line.objectValue.map { Array($0.keys) } == ["run", "activity", "attempt", "tag", "unix_ns"])
            #expect(line["run"] == "r1")
            #expect(line["activity"] == "act")
            #expect(line["attempt"] == 1)
        }
        let times = written.compactMap { $0["unix_ns"].flatMap { if case .int(let ns) = $0 { ns } else { nil } } }
        #expect(times.count == 2 && times[0] <= times[1])
        #expect(abs(Double(times[0]) / 1e9 - Date().timeIntervalSince1970) < 600)
    }

    @Test func concurrentWritersNeverInterleave() async throws {
        let path = ledgerPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let runners = (0..<2).map { _ in LuaRunner(threads: 2, testLedger: LuaTestLedger(path: path)) }
        let tag = String(repeating: "x", count: 3000)
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask { _ = await run("for i = 1, 25 do test.ledger(input.tag) end", input: ["tag": .string(tag)], runner: runners[index % 2]) }
            }
        }
        let written = try lines(path)
        #expect(written.count == 200)
        #expect(written.allSatisfy { $0["tag"] == .string(tag) })
    }

    @Test func absentWithoutALedger() async throws {
        let runner = LuaRunner(threads: 1, testLedger: nil)
        #expect(await run("return type(test)", runner: runner).value?.output == "nil")
        #expect(await run("test.ledger('x')", runner: runner).failure?.type == .activityError)
    }

    @Test func onlyTheEnvironmentVariableTurnsItOn() {
        #expect(LuaTestLedger.fromEnvironment(["MOONFLOW_TEST_LEDGER": "/tmp/l.jsonl"])?.path == "/tmp/l.jsonl")
        #expect(LuaTestLedger.fromEnvironment(["MOONFLOW_TEST_LEDGER": ""]) == nil)
        #expect(LuaTestLedger.fromEnvironment([:]) == nil)
    }

    @Test func expressionsCannotWriteIt() async throws {
        let path = ledgerPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let runner = LuaRunner(threads: 1, testLedger: LuaTestLedger(path: path))
        let template = ValueTemplate.template(Template(parts: [.expression(Expression("test.ledger('x')"))]))
        await #expect(throws: ActivityFailure.self) { try await runner.evaluate(template, scope: [:]) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
