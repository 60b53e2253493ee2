import Foundation
import Logging
import MoonflowRuntime
import MoonflowModel
import Synchronization
import Testing

/// Issue 13 item 2: `JSONLogHandler` writes one JSON object a line, whatever is logged.
@Suite struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let all = Mutex<[String]>([])
    }

    @Test func everyLineIsOneObjectWithItsMetadataFlattened() throws {
        let lines = Lines()
        var logger = Logger(label: "moonflow", factory: { JSONLogHandler(label: $0, metadataProvider: nil) { line in lines.all.withLock { $0.append(line) } } })
        logger.logLevel = .debug
        logger[metadataKey: "run.id"] = "r\n1"
        let hostile = "a\nb\r\u{1B}[2J\u{0}\u{7F}\"\\ \u{2028} é 🙂"
        logger.warning(
            "\(hostile)",
            metadata: [
                hostile: .string(hostile), "level": "forged", "nested": ["k": ["x", .stringConvertible(3)]], "n": .stringConvertible(42),
            ])
        logger.trace("below the level")
        let written = lines.all.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{1B}"))
        let object = try Value(json: line)
        #expect(object["message"]?.stringValue == hostile)
        #expect(object["level"] == "warning")
        #expect(object["logger"] == "moonflow")
        #expect(object["ts"]?.stringValue?.hasSuffix("Z") == true)
        #expect(object["run.id"] == "r\n1")
        #expect(object[hostile]?.stringValue == hostile)
        // A metadata key named like one of the line's own is kept beside it, not over it.
        #expect(object["metadata.level"] == "forged")
        #expect(object["nested"] == ["k": ["x", "3"]])
        #expect(object["n"] == "42")
    }
}
