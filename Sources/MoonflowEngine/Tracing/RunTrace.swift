import Crypto
package import MoonflowModel

/// The trace a run's spans belong to (docs/operations.md, tracing). A run started with a W3C
/// `traceparent` continues that trace, under the caller's span, as the caller sampled it. Any
/// other run has a trace of its own whose id is derived from the run id, under a parent span id
/// derived from it too, so every process that drives the run (recovery, redrive, a restarted
/// server) puts its spans in the same trace, and every one of them samples it alike: the first
/// eight bytes of the trace id, as a fraction of 2⁶⁴, below `samplingRate`.
package enum RunTrace {
    package static func parent(of runID: RunID, given: TraceParent?, samplingRate: Double) -> TraceParent {
        if let given { return given }
        let digest = Array(SHA256.hash(data: Array("moonflow.trace.v1\u{0}\(runID)".utf8)))
        let traceID = Array(digest[0..<16])
        var parentID = Array(digest[16..<24])
        // All zero is not a valid id (one chance in 2⁶⁴).
        if parentID.allSatisfy({ $0 == 0 }) { parentID[7] = 1 }
        return TraceParent(traceID: traceID, parentID: parentID, sampled: sampled(traceID, rate: samplingRate))
    }

    /// Whether a trace with this id is sampled at `rate` (0…1).
    package static func sampled(_ traceID: [UInt8], rate: Double) -> Bool {
        guard rate < 1 else { return true }
        guard rate > 0 else { return false }
        let value = traceID.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(value) < rate * 18_446_744_073_709_551_616.0
    }
}
