import Foundation
import MoonflowLua
import MoonflowModel
import Testing

/// Security issue 12, item 16: Lua's parser runs no VM code, so the hook never sees it, and some
/// inputs make it quadratic (a 256KB `a or a or …` took 4.7s at every validation and reload).
/// Compilation is bounded in time, and validation results are cached by content.
@Suite struct CompileBoundTests {
    static func repeated(_ prefix: String, _ unit: String, _ suffix: String, size: Int = 250 << 10) -> String {
        prefix + String(repeating: unit, count: (size - prefix.utf8.count - suffix.utf8.count) / unit.utf8.count) + suffix
    }

    func timed<T>(_ body: () -> T) -> (T, Double) {
        let start = ContinuousClock.now
        let value = body()
        let elapsed = ContinuousClock.now - start
        return (value, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    static let pathological: [String] = [
        repeated("return a", " or a", ""),
        repeated("return a", " and a", ""),
        repeated("if x then ", "elseif x then ", "end"),
        repeated("while x do ", "break ", "end", size: 150 << 10),
    ]

    @Test(arguments: CompileBoundTests.pathological.indices)
    func validationIsBoundedAndCached(_ index: Int) {
        let source = Self.pathological[index] + "\n-- \(UUID())"
        let checker = LuaSyntaxChecker()
        let (first, seconds) = timed { checker.checkChunk(source, name: "big.lua") }
        #expect(seconds < 1.5, "first check took \(seconds)s")
        // Refused as too complex, or compiled within the budget (the elseif chain takes ~0.5s here).
        #expect(first == nil || first?.message.contains("too complex") == true, "\(String(describing: first))")
        let (second, again) = timed { checker.checkChunk(source, name: "big.lua") }
        #expect(second == first)
        #expect(again < 0.1, "cached check took \(again)s")
    }

    @Test func orChainsAndManyBreaksAreRefused() {
        let checker = LuaSyntaxChecker()
        #expect(checker.checkChunk(Self.pathological[0] + "--x", name: "or.lua")?.message.contains("too complex") == true)
        #expect(checker.checkChunk(Self.pathological[3] + "--x", name: "breaks.lua")?.message.contains("'break'/'goto'") == true)
    }

    @Test func executionCompileIsBounded() throws {
        let sandbox = try LuaSandbox()
        let invocation = ScriptInvocation(chunk: ScriptChunk(source: Self.pathological[0], name: "or.lua"), limits: ScriptLimits(timeout: .seconds(30)))
        let (failure, seconds) = timed { () -> ActivityFailure? in
            do throws(ActivityFailure) { _ = try sandbox.run(invocation) } catch { return error }
            return nil
        }
        #expect(failure?.type == .sandboxViolation, "\(String(describing: failure))")
        #expect(seconds < 1.5)
    }

    @Test func ordinarySourcesStillCompile() async throws {
        let checker = LuaSyntaxChecker()
        let big = Self.repeated("local t = {} ", "t[#t + 1] = 'hello' .. #t ", "return #t")
        #expect(checker.checkChunk(big, name: "ok.lua") == nil)
        #expect(checker.checkChunk("return a or b and c", name: "ok.lua") == nil)
        #expect(checker.checkChunk("return a or", name: "bad.lua")?.line == 1)
        #expect(checker.checkExpression(String(repeating: "a or ", count: 500) + "b") == nil)
        #expect(await run("local n = 0 for i = 1, 10 do if i > 5 then break end n = n + 1 end return n").value?.output == 5)
    }
}
