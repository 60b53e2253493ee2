import Synchronization

/// The engine's source of randomness (retry jitter), injected so tests are reproducible.
package protocol RandomSource: Sendable {
    /// A uniformly distributed value in `[0, 1)`.
    func nextUnit() -> Double
}

/// The system's random generator.
package struct SystemRandomSource: RandomSource {
    package init() {}
    package func nextUnit() -> Double { Double.random(in: 0..<1) }
}

/// A reproducible source (SplitMix64) for tests and benchmarks.
package final class SeededRandomSource: RandomSource {
    private let state: Mutex<UInt64>

    package init(seed: UInt64) { state = Mutex(seed) }

    package func nextUnit() -> Double {
        let bits: UInt64 = state.withLock { s in
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        return Double(bits >> 11) / Double(UInt64(1) << 53)
    }
}
