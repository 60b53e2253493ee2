import Logging
import MoonflowModel
import MoonflowRuntime
import Synchronization
import Testing

/// Log injection (issue 12 item 11): no logged field can forge a line or a terminal sequence.
@Suite struct ControlEscapingLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    struct Capture: LogHandler {
        let sink: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let fields = metadata.merging(event.metadata ?? [:]) { _, new in new }.sorted { $0.key < $1.key }
            sink.append(fields.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + " " + event.message.description)
        }
    }

    @Test func messageAndEveryMetadataValueAreEscaped() throws {
        let sink = Lines()
        var logger = Logger(label: "t", factory: { _ in ControlEscapingLogHandler(Capture(sink: sink)) })
        logger[metadataKey: "run.id"] = "r1\n2026-12-07T00:00:00+0000 critical moonflow : admin token rotated"
        logger.warning(
            "attempt failed: boom\r\n\u{1B}[2J",
            metadata: [
                "error": .stringConvertible(ActivityFailure(.activityError, "fine")), "nested": ["k\n": .array(["\u{1B}]0;title\u{7}"])],
            ])
        let line = try #require(sink.all.first)
        #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{1B}") && !line.contains("\u{7}"))
        #expect(line.contains(#"r1\n2026-12-07T00:00:00+0000 critical"#))
        #expect(line.contains(#"boom\r\n\u{1B}[2J"#))
    }
}
