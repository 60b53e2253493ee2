import MoonflowModel
import Testing

/// W3C Trace Context `traceparent` (docs/operations.md, tracing): what a run's start accepts.
@Suite struct TraceParentTests {
    @Test func aVersionZeroHeaderIsReadAndWrittenBackAlike() throws {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let parent = try #require(TraceParent(header: " \(header)\t"))
        #expect(parent.traceIDHex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(Hex.encode(parent.parentID) == "00f067aa0ba902b7" && parent.sampled)
        #expect(parent.header == header)
        #expect(TraceParent(header: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled == false)
        // A later version is read by its first four fields.
        #expect(TraceParent(header: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later")?.header == header)
    }

    @Test func anythingElseIsNotATraceparent() {
        for text in [
            "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            #expect(TraceParent(header: text) == nil, "\(text)")
        }
    }
}
