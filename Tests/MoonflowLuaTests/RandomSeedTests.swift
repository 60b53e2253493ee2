import MoonflowLua
import MoonflowModel
import Testing

/// Lua 5.4's `math.random`: xoshiro256** seeded by `math.randomseed(n1, n2)` as {n1, 0xff, n2, 0}
/// and 16 discarded draws; `math.random(0)` answers a whole 64-bit draw.
private struct Xoshiro {
    var s: [UInt64]

    init(seed n1: UInt64, _ n2: UInt64 = 0) {
        s = [n1, 0xff, n2, 0]
        for _ in 0..<16 { _ = next() }
    }

    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    mutating func next() -> UInt64 {
        let result = Self.rotl(s[1] &* 5, 7) &* 9
        let t = s[1] << 17
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = Self.rotl(s[3], 45)
        return result
    }
}

/// The attack of the issue: from one execution's draws, recover the seed it was given and predict
/// the next execution's. The generator's state moves linearly over GF(2), so `state[1]` after the
/// discarded draws (recovered exactly from a draw by inverting `rotl(x * 5, 7) * 9`) is a known
/// linear function of the seed's 64 bits.
private enum SeedRecovery {
    /// One state bit as a linear form of the seed bits (plus a constant).
    struct Form {
        var mask: UInt64
        var constant: Bool
    }
    typealias Word = [Form]

    static func xor(_ a: Word, _ b: Word) -> Word {
        zip(a, b).map { Form(mask: $0.mask ^ $1.mask, constant: $0.constant != $1.constant) }
    }
    static func shl(_ a: Word, _ k: Int) -> Word { (0..<64).map { $0 >= k ? a[$0 - k] : Form(mask: 0, constant: false) } }
    static func rotl(_ a: Word, _ k: Int) -> Word { (0..<64).map { a[($0 - k + 64) % 64] } }
    static func constant(_ v: UInt64) -> Word { (0..<64).map { Form(mask: 0, constant: (v >> UInt64($0)) & 1 == 1) } }

    static func inverse(_ x: UInt64) -> UInt64 {
        var inverse = x
        for _ in 0..<6 { inverse = inverse &* (2 &- x &* inverse) }
        return inverse
    }

    /// The seed `n1` (with `n2 = 0`) that produced these consecutive draws, or nil.
    static func seed(from draws: [UInt64]) -> UInt64? {
        var s: [Word] = [(0..<64).map { Form(mask: 1 << UInt64($0), constant: false) }, constant(0xff), constant(0), constant(0)]
        func step() {
            let t = shl(s[1], 17)
            s[2] = xor(s[2], s[0])
            s[3] = xor(s[3], s[1])
            s[1] = xor(s[1], s[2])
            s[0] = xor(s[0], s[3])
            s[2] = xor(s[2], t)
            s[3] = rotl(s[3], 45)
        }
        for _ in 0..<16 { step() }
        var rows: [(mask: UInt64, rhs: Bool)] = []
        for draw in draws {
            let x = draw &* inverse(9)
            let state1 = ((x >> 7) | (x << 57)) &* inverse(5)
            for bit in 0..<64 {
                let form = s[1][bit]
                rows.append((form.mask, ((state1 >> UInt64(bit)) & 1 == 1) != form.constant))
            }
            step()
        }
        // Gaussian elimination over GF(2).
        var pivotRow = 0
        var pivots: [Int: Int] = [:]
        for bit in 0..<64 {
            guard let found = (pivotRow..<rows.count).first(where: { rows[$0].mask >> UInt64(bit) & 1 == 1 }) else { continue }
            rows.swapAt(pivotRow, found)
            for r in 0..<rows.count where r != pivotRow && rows[r].mask >> UInt64(bit) & 1 == 1 {
                rows[r].mask ^= rows[pivotRow].mask
                rows[r].rhs = rows[r].rhs != rows[pivotRow].rhs
            }
            pivots[bit] = pivotRow
            pivotRow += 1
        }
        guard pivots.count == 64, !rows[pivotRow...].contains(where: { $0.rhs }) else { return nil }
        var seed: UInt64 = 0
        for (bit, row) in pivots where rows[row].rhs { seed |= 1 << UInt64(bit) }
        return seed
    }
}

/// Security issue 12, item 14: `math.random` is seeded from the OS's CSPRNG in every execution;
/// one execution's draws told the next execution's on the same state exactly.
@Suite struct RandomSeedTests {
    /// The attack works against the generator it models (so its failure below means something).
    @Test func theAttackRecoversAKnownSeed() {
        var generator = Xoshiro(seed: 0x1234_5678_9abc_def0 >> 1)
        let draws = (0..<3).map { _ in generator.next() }
        #expect(SeedRecovery.seed(from: draws) == 0x1234_5678_9abc_def0 >> 1)
    }

    @Test func drawsDoNotPredictTheNextExecution() throws {
        let sandbox = try LuaSandbox()
        func draws() throws -> [UInt64] {
            let output = try sandbox.run(ScriptInvocation(chunk: ScriptChunk(source: "return {math.random(0), math.random(0), math.random(0)}", name: "r.lua")))
                .output
            return try #require(output.arrayValue).map { UInt64(bitPattern: try #require($0.intValue)) }
        }
        let first = try draws()
        let second = try draws()
        var predicted: Set<UInt64> = []
        if let seed = SeedRecovery.seed(from: first) {
            // The old per-state generator: seed = xorshift64(state) >> 1, one step per execution.
            for low: UInt64 in [0, 1] {
                var state = seed << 1 | low
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                var next = Xoshiro(seed: state >> 1)
                predicted.insert(next.next())
            }
        }
        #expect(!predicted.contains(second[0]))
    }

    /// `math.randomseed()` without arguments must not fall back to Lua's time-based seed either.
    @Test func randomseedWithoutArgumentsIsUnpredictable() async throws {
        let sandbox = try LuaSandbox()
        var seen: Set<Value> = []
        for _ in 0..<4 {
            seen.insert(try sandbox.run(ScriptInvocation(chunk: ScriptChunk(source: "math.randomseed() return math.random(0)", name: "r.lua"))).output)
        }
        #expect(seen.count == 4)
        #expect(try sandbox.run(ScriptInvocation(chunk: ScriptChunk(source: "math.randomseed(7) local a = math.random(0) math.randomseed(7) return a == math.random(0)", name: "r.lua"))).output == true)
    }
}
