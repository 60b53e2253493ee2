import Foundation
import MoonflowEngine
import MoonflowModel
import Testing

@testable import MoonflowServer

/// Issue 12, item 7: event-stream subscribers that stop reading must not grow memory without
/// bound. Each has a bounded buffer; past it, it gets a final `stream.overflow` event and the
/// stream ends, and a connection that takes nothing for the write timeout is closed.
@Suite("Event stream: stalled subscribers stay bounded", .serialized, .timeLimit(.minutes(2)))
struct StreamBackpressureTests {
    /// Events of 64 KiB each, each with its own payload (no sharing between events).
    static func bigEvents(_ count: Int, from start: Int = 0) -> [RunEvent] {
        (start..<(start + count)).map { index in
            RunEvent(
                .activityCompleted(
                    ActivityCompletion(
                        seq: index + 1,
                        output: .string(String(repeating: Character(UnicodeScalar(UInt8(97 + index % 26))), count: 64 << 10) + "\(index)"),
                        attempts: 1)),
                runID: "bulk-\(index)", workflow: "hello", activity: "greet", attempt: 1, at: Timestamp(nanosecondsSinceEpoch: Int64(index)))
        }
    }

    static func subscribe(_ port: Int, receiveBuffer: Int32 = 4096) throws -> RawConnection {
        let connection = try RawConnection(port: port, receiveBuffer: receiveBuffer)
        try connection.send(
            "GET /v1/events/stream HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: Bearer \(Tokens.admin)\r\nConnection: close\r\n\r\n")
        return connection
    }

    /// RSS belongs to the whole test process, so suites running beside this one would count: it
    /// runs only in a process of its own (`make test` runs it so, with MOONFLOW_MEMORY_TESTS=1).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MOONFLOW_MEMORY_TESTS"] == "1",
        "measures this process's RSS: run alone with MOONFLOW_MEMORY_TESTS=1 (make test does)"))
    func twentyStalledSubscribersAndTwoThousandEventsStayWithinFiftyMegabytes() async throws {
        let limits = ServerLimits(streamBufferBytes: 1 << 20, streamWriteTimeout: .seconds(3))
        try await TestServer.run(Fixtures.project, limits: limits) { client, core in
            // Warm up (the first events, the first stream) so the baseline holds what any server holds.
            let warm = try Self.subscribe(client.port, receiveBuffer: 1 << 20)
            try await Task.sleep(for: .milliseconds(200))
            core.engine.bus.publish(Self.bigEvents(20))
            try await Task.sleep(for: .milliseconds(300))
            warm.close()
            try await Task.sleep(for: .milliseconds(300))
            let baseline = residentBytes()

            let stalled = try (0..<20).map { _ in try Self.subscribe(client.port) }
            try await Task.sleep(for: .milliseconds(500))  // every subscription is in place
            var peak = baseline
            for batch in 0..<20 {
                core.engine.bus.publish(Self.bigEvents(100, from: 100 * batch))
                try await Task.sleep(for: .milliseconds(50))
                peak = max(peak, residentBytes())
            }
            try await Task.sleep(for: .seconds(1))
            peak = max(peak, residentBytes())
            let grown = (peak - baseline) >> 20
            print("stalled subscribers: RSS baseline \(baseline >> 20) MB, peak \(peak >> 20) MB (+\(grown) MB)")
            #expect(grown < 50, "RSS grew by \(grown) MB (baseline \(baseline >> 20) MB, peak \(peak >> 20) MB)")
            // The server still answers, and the stalled connections are let go of (write timeout).
            #expect(try await client.get("/health", token: nil).status == 200)
            for connection in stalled { #expect(await connection.isClosedByPeer(within: .seconds(10))) }
            withExtendedLifetime(stalled) {}
        }
    }

    @Test func aSubscriberThatFallsBehindGetsAFinalOverflowEvent() async throws {
        let limits = ServerLimits(streamBufferBytes: 256 << 10, streamWriteTimeout: .seconds(30))
        try await TestServer.run(Fixtures.project, limits: limits) { client, core in
            let slow = try Self.subscribe(client.port)
            try await Task.sleep(for: .milliseconds(300))
            core.engine.bus.publish(Self.bigEvents(300))
            try await Task.sleep(for: .milliseconds(500))
            // It reads again: what was buffered, then the final event, then the end of the stream.
            let text = await slow.readAll()
            #expect(text.contains("event: stream.overflow"))
            #expect(text.hasSuffix("\r\n0\r\n\r\n"), "the stream ends after the overflow event")
            let delivered = text.components(separatedBy: "event: activity.completed").count - 1
            // How many were written before it fell behind depends on the machine's load (none, on a
            // busy one); never all of them.
            #expect(delivered < 300, "\(delivered) events delivered")
            // A subscriber that keeps up gets everything.
            let reader = try Self.subscribe(client.port, receiveBuffer: 1 << 20)
            try await Task.sleep(for: .milliseconds(300))
            core.engine.bus.publish(Self.bigEvents(3))
            try await Task.sleep(for: .milliseconds(300))
            reader.close()
            #expect(try await client.get("/health", token: nil).status == 200)
        }
    }

    @Test func theBusDropsASubscriberThatFallsBehind() async {
        let bus = EventBus()
        let subscription = bus.subscription(bufferLimit: 10)
        bus.publish(Self.bigEvents(25).map { event in
            var small = event
            small.payload = .activityCompleted(ActivityCompletion(seq: 1, output: .null, attempts: 1))
            return small
        })
        var received = 0
        for await _ in subscription { received += 1 }
        #expect(received == 10)
        #expect(subscription.overflowed)
        let quiet = bus.subscription(bufferLimit: 10)
        quiet.cancel()
        var none = 0
        for await _ in quiet { none += 1 }
        #expect(none == 0 && !quiet.overflowed)
    }

    /// A subscriber that wants a few events (the emitted-event trigger service wants those
    /// scripts emit) is never buffered the others: thousands of lifecycle events do not drop it.
    @Test func aFilteredSubscriberDoesNotFallBehindOnEventsItDoesNotWant() async {
        let bus = EventBus()
        let emitted = bus.subscription(bufferLimit: 10, wants: { !$0.type.isReserved })
        bus.publish(
            (0..<1000).map {
                RunEvent(
                    .activityCompleted(ActivityCompletion(seq: $0 + 1, output: .null, attempts: 1)), runID: "r\($0)", workflow: "w",
                    at: Timestamp(nanosecondsSinceEpoch: 0))
            })
        bus.publish([
            RunEvent(.emitted(type: EventType("order.placed"), payload: .null), runID: "r1", workflow: "w", at: Timestamp(nanosecondsSinceEpoch: 0))
        ])
        emitted.cancel()
        var types: [String] = []
        for await event in emitted { types.append(event.type.rawValue) }
        #expect(types == ["order.placed"])
        #expect(!emitted.overflowed)
    }
}
