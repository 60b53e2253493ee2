import MoonflowLua
import MoonflowModel
import Testing

@Suite struct SmokeTests {
    @Test func returnsValues() async throws {
        let result = await run("return {a = 1, b = 2.5, c = 'x', d = {1, 2, 3}, e = true}")
        #expect(result.value?.output == ["a": 1, "b": 2.5, "c": "x", "d": [1, 2, 3], "e": true])
    }

    @Test func probeIsClean() async throws {
        let result = await run(cleanlinessProbe)
        #expect(result.failure == nil)
        #expect(result.value?.output == cleanProbeResult)
    }
}
