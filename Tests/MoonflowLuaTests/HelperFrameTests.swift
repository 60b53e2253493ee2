@testable import MoonflowLua
import MoonflowModel
import Testing

/// The frames between the engine and a sandbox helper carry a replay in and a recording out
/// (`activity.recorded`), and refuse one a helper could not have made: over the recording's bounds
/// or of the wrong shape.
@Suite struct HelperFrameTests {
    static func recording() -> ScriptRecording {
        var recording = ScriptRecording()
        recording.now = ["2026-12-08T00:00:00.000Z"]
        recording.unix = [1_796_688_000]
        recording.uuids = ["00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000001"]
        recording.seeds = [[0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210]]
        recording.http = [["status": 200, "headers": [:], "json": ["n": 1]], ["error": ["type": "HttpError", "message": "down"]]]
        recording.truncated = true
        return recording
    }

    /// Encodes `recording` as a frame payload and reads it back.
    static func roundTrip(_ recording: ScriptRecording?) throws -> ScriptRecording? {
        var writer = FrameWriter()
        writer.begin(.done)
        writer.recording(recording)
        let payload = Array(writer.bytes.dropFirst(HelperProtocol.headerSize))
        return try payload.withUnsafeBytes { bytes in
            var reader = FrameReader(bytes, maxDepth: 8)
            let read = try reader.recording()
            guard reader.isAtEnd else { throw FrameError(message: "bytes left") }
            return read
        }
    }

    @Test func aRecordingCrossesTheSocketUnchanged() throws {
        #expect(try Self.roundTrip(Self.recording()) == Self.recording())
        #expect(try Self.roundTrip(nil) == nil)
    }

    @Test func aRecordingPastItsBoundsIsRefused() {
        var uuids = ScriptRecording()
        uuids.uuids = Array(repeating: "00000000-0000-4000-8000-000000000000", count: ScriptRecording.maxEntries + 1)
        var seeds = ScriptRecording()
        seeds.seeds = Array(repeating: [1, 2], count: ScriptRecording.maxSeeds + 1)
        var shortSeed = ScriptRecording()
        shortSeed.seeds = [[1]]
        var http = ScriptRecording()
        http.http = [["body": .string(String(repeating: "x", count: ScriptRecording.maxHTTPBytes))]]
        for recording in [uuids, seeds, shortSeed, http] {
            #expect(throws: FrameError.self) { try Self.roundTrip(recording) }
        }
    }

    @Test func aRunFrameCarriesTheReplayAndWhetherToRecord() throws {
        for (replay, records) in [(Self.recording(), false), (nil, true), (nil, false)] as [(ScriptRecording?, Bool)] {
            var invocation = ScriptInvocation(chunk: ScriptChunk(source: "return uuid()", name: "r.lua"), input: ["n": 1])
            invocation.replay = replay
            if records { invocation.recordingSink = { _ in } }
            var writer = FrameWriter()
            HelperRequest.write(invocation, remaining: 1_000, into: &writer)
            #expect(writer.bytes[4] == FrameKind.run.rawValue)
            let payload = Array(writer.bytes.dropFirst(HelperProtocol.headerSize))
            let request = try payload.withUnsafeBytes { bytes in
                var reader = FrameReader(bytes, maxDepth: 64)
                return try HelperRequest(&reader)
            }
            #expect(request.invocation.replay == replay)
            #expect(request.records == records)
            #expect(request.invocation.input == ["n": 1] && request.remaining == 1_000)
        }
    }
}
