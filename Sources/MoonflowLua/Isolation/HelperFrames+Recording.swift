import MoonflowModel

/// A `ScriptRecording` on the helper's socket: a replay going in with a `run` frame, the recording
/// of an execution coming back with its `done` or `failed` frame. `u8 present`, then each kind as
/// `u32 count · items` (`now`, `unix`, `uuid`, seeds as `u32 words · u64…`, `http` values),
/// then `u8 truncated`. Read back within the recording's own bounds: a helper cannot hand the
/// engine more than the sandbox keeps.
extension FrameWriter {
    mutating func recording(_ recording: ScriptRecording?) {
        guard let recording else {
            bool(false)
            return
        }
        bool(true)
        u32(UInt32(recording.now.count))
        for answer in recording.now { string(answer) }
        u32(UInt32(recording.unix.count))
        for answer in recording.unix { i64(answer) }
        u32(UInt32(recording.uuids.count))
        for answer in recording.uuids { string(answer) }
        u32(UInt32(recording.seeds.count))
        for seed in recording.seeds {
            u32(UInt32(seed.count))
            for word in seed { u64(word) }
        }
        u32(UInt32(recording.http.count))
        for answer in recording.http { value(answer) }
        bool(recording.truncated)
    }
}

extension FrameReader {
    mutating func recording() throws(FrameError) -> ScriptRecording? {
        guard try bool() else { return nil }
        var recording = ScriptRecording()
        for _ in 0..<(try count(atMost: ScriptRecording.maxEntries, "time.now")) { recording.now.append(try string()) }
        for _ in 0..<(try count(atMost: ScriptRecording.maxEntries, "time.unix")) { recording.unix.append(try i64()) }
        for _ in 0..<(try count(atMost: ScriptRecording.maxEntries, "uuid")) { recording.uuids.append(try string()) }
        for _ in 0..<(try count(atMost: ScriptRecording.maxSeeds, "random seed")) {
            guard try u32() == 2 else { throw FrameError(message: "a recorded random seed is not two words") }
            recording.seeds.append([try u64(), try u64()])
        }
        var httpBytes = 0
        for _ in 0..<(try count(atMost: ScriptRecording.maxEntries, "http.request")) {
            let answer = try value()
            // Measured as the sandbox measures it when it records.
            httpBytes += answer.jsonString().utf8.count
            guard httpBytes <= ScriptRecording.maxHTTPBytes else {
                throw FrameError(message: "recorded http.request answers over \(ScriptRecording.maxHTTPBytes) bytes")
            }
            recording.http.append(answer)
        }
        recording.truncated = try bool()
        return recording
    }

    private mutating func count(atMost bound: Int, _ kind: String) throws(FrameError) -> Int {
        let count = Int(try u32())
        guard count <= bound else { throw FrameError(message: "\(count) recorded \(kind) answers, over \(bound)") }
        return count
    }
}
