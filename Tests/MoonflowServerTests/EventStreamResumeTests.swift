import AsyncHTTPClient
import Foundation
import MoonflowEngine
import MoonflowModel
import NIOCore
import Testing

@testable import MoonflowServer

/// Issue 13, item 15: every event on `GET /v1/events/stream` has an `id:` (its durable position),
/// and `Last-Event-ID` (header or `last_event_id`) resumes after it from what the store holds.
@Suite("Event stream: ids and Last-Event-ID", .timeLimit(.minutes(1)))
struct EventStreamResumeTests {
    static let emitter = """
        workflow: emitter
        activities:
          - name: announce
            run: |
              emit("order.placed", {n = 1})
              emit("order.shipped", {n = 2})
              return {ok = true}
          - name: after
            needs: [announce]
            call: noop
        """

    static var files: [String: String] { ["workflows/hello.yaml": Fixtures.hello, "workflows/emitter.yaml": emitter] }

    struct SSE: Equatable {
        var id: String
        var type: String
        var data: Value
        var position: EventPosition? { EventPosition(id) }
    }

    /// The events of a stream's text (comments and a torn last event left out).
    static func events(_ text: String) -> [SSE] {
        text.components(separatedBy: "\n\n").dropLast().compactMap { block in
            var sse = SSE(id: "", type: "", data: .null)
            var any = false
            for line in block.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasPrefix("id: ") { sse.id = String(line.dropFirst(4)); any = true }
                if line.hasPrefix("event: ") { sse.type = String(line.dropFirst(7)); any = true }
                if line.hasPrefix("data: ") { sse.data = (try? Value(json: String(line.dropFirst(6)))) ?? .null }
            }
            return any ? sse : nil
        }
    }

    static func open(_ client: Client, _ query: String = "", lastEventID: String? = nil) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: client.base + "/v1/events/stream" + query)
        request.headers.add(name: "Authorization", value: "Bearer \(Tokens.operator)")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        return try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    }

    /// Reads the stream until `done` holds for the events so far.
    static func read(_ response: HTTPClientResponse, until done: ([SSE]) -> Bool) async throws -> [SSE] {
        var text = ""
        var chunks = response.body.makeAsyncIterator()
        while !done(events(text)), let chunk = try await chunks.next() { text += String(buffer: chunk) }
        return events(text)
    }

    /// What the store holds, as the stream publishes it: every entry's position in order.
    static func stored(_ core: ServerCore, runID: String? = nil) async throws -> [RunEvent] {
        try await core.store.events(after: 0, runID: runID, limit: 10_000).flatMap { Announcements.published($0).map(\.event) }
    }

    static func start(_ client: Client, _ workflow: String) async throws -> String {
        let answer = try await client.post("/v1/runs", ["workflow": .string(workflow)])
        return try #require(answer.json["run_id"]?.stringValue, "\(answer.text)")
    }

    @Test func everyLiveEventHasAnIdThatGrowsAndEmittedEventsFollowTheirCompletion() async throws {
        try await TestServer.run(Self.files) { client, core in
            let response = try await Self.open(client)
            var chunks = response.body.makeAsyncIterator()
            _ = try await chunks.next()  // the opening comment: the subscription is in place
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<6 { group.addTask { _ = try await Self.start(client, index % 2 == 0 ? "emitter" : "hello") } }
                try await group.waitForAll()
            }
            var text = ""
            while Self.events(text).filter({ $0.type == "run.completed" }).count < 6, let chunk = try await chunks.next() {
                text += String(buffer: chunk)
            }
            let events = Self.events(text)
            let positions = events.map(\.position)
            #expect(positions.allSatisfy { $0 != nil }, "\(events.map(\.id))")
            #expect(zip(positions, positions.dropFirst()).allSatisfy { $0! < $1! }, "ids must grow: \(events.map(\.id))")
            // The two emitted events follow their completion, at its position .1 and .2.
            for (index, event) in events.enumerated() where event.type == "order.placed" {
                let completion = events[index - 1]
                #expect(completion.type == "activity.completed")
                #expect(event.id == "\(completion.id).1")
                #expect(events[index + 1].type == "order.shipped" && events[index + 1].id == "\(completion.id).2")
            }
            #expect(events.filter { $0.type == "order.placed" }.count == 3)
            // The live ids are the store's positions.
            let stored = try await Self.stored(core)
            #expect(Set(events.map(\.id)).isSubset(of: Set(stored.compactMap { $0.position?.description })))
        }
    }

    @Test func lastEventIDReplaysWhatTheStoreHoldsAfterItThenGoesLiveWithNothingTwice() async throws {
        try await TestServer.run(Self.files) { client, core in
            for workflow in ["hello", "emitter", "hello"] {
                let id = try await Self.start(client, workflow)
                _ = try await client.waitForStatus(id, ["completed"])
            }
            let stored = try await Self.stored(core)
            let last = try #require(stored.last?.position)

            // From the beginning (header): everything stored, in order, with the store's positions.
            let all = try await Self.read(try await Self.open(client, lastEventID: "0")) { $0.last?.position == last }
            #expect(all.map(\.id) == stored.map { $0.position!.description })
            #expect(all.map(\.type) == stored.map(\.type.rawValue))
            #expect(all.first?.data["run_id"] != nil)

            // After an emitted event (query parameter): the rest of its completion's events, then the later ones.
            let placed = try #require(all.firstIndex { $0.type == "order.placed" })
            let rest = try await Self.read(try await Self.open(client, "?last_event_id=\(all[placed].id)")) { $0.last?.position == last }
            #expect(rest.map(\.id) == all[(placed + 1)...].map(\.id))
            #expect(rest.first?.type == "order.shipped")

            // Resumed in the middle while new runs start: the replay, then live, each event once, in order.
            let middle = all[all.count / 2]
            let response = try await Self.open(client, lastEventID: middle.id)
            let newRun = try await Self.start(client, "emitter")
            let resumed = try await Self.read(response) { events in
                events.contains { $0.type == "run.completed" && $0.data["run_id"]?.stringValue == newRun }
            }
            let ids = resumed.map(\.id)
            #expect(Set(ids).count == ids.count, "an event came twice: \(ids)")
            #expect(zip(resumed, resumed.dropFirst()).allSatisfy { $0.position! < $1.position! })
            let expected = try await Self.stored(core).filter { $0.position! > middle.position! }.prefix(resumed.count)
            #expect(ids == expected.map { $0.position!.description })
        }
    }

    @Test func theHeaderWinsOverTheQueryAndFiltersApplyToTheReplay() async throws {
        try await TestServer.run(Self.files) { client, core in
            let first = try await Self.start(client, "hello")
            _ = try await client.waitForStatus(first, ["completed"])
            let second = try await Self.start(client, "emitter")
            _ = try await client.waitForStatus(second, ["completed"])
            let ofSecond = try await Self.stored(core, runID: second)
            let lastOfSecond = try #require(ofSecond.last?.position)

            let filtered = try await Self.read(try await Self.open(client, "?run_id=\(second)&last_event_id=0")) {
                $0.last?.position == lastOfSecond
            }
            #expect(filtered.map(\.id) == ofSecond.map { $0.position!.description })
            #expect(filtered.allSatisfy { $0.data["run_id"]?.stringValue == second })

            let runsOnly = try await Self.read(try await Self.open(client, "?type=run.&last_event_id=0")) {
                $0.filter { $0.type == "run.completed" }.count == 2
            }
            #expect(runsOnly.allSatisfy { $0.type.hasPrefix("run.") })
            #expect(runsOnly.first?.type == "run.queued")

            // The header (what a reconnecting EventSource sends) wins over the query it keeps.
            let afterFirst = try #require(try await Self.stored(core, runID: first).last?.position)
            let fromHeader = try await Self.read(
                try await Self.open(client, "?last_event_id=0", lastEventID: afterFirst.description)) { $0.last?.position == lastOfSecond }
            #expect(fromHeader.first?.data["run_id"]?.stringValue == second)
        }
    }

    @Test(arguments: ["abc", "-1", "1.2.3", "+4", "1.", ".1", " 7", "99999999999999999999", "0x10"])
    func aMalformedIdIsABadRequest(_ id: String) async throws {
        try await TestServer.run(Self.files) { client, _ in
            let encoded = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id
            let viaQuery = try await client.get("/v1/events/stream?last_event_id=\(encoded)")
            #expect(viaQuery.status == 400)
            #expect(viaQuery.json["error"]?["type"]?.stringValue == "BadRequest")
            #expect(viaQuery.json["error"]?["details"]?["path"]?.stringValue == "query last_event_id")
            if id != " 7" {  // a header value's surrounding spaces are not part of it
                let viaHeader = try await Self.open(client, lastEventID: id)
                #expect(viaHeader.status.code == 400)
            }
        }
    }

    @Test func anIdPastTheStoresHistoryGetsAResetAndTheStreamGoesOnFromNow() async throws {
        try await TestServer.run(Self.files) { client, core in
            let first = try await Self.start(client, "hello")
            _ = try await client.waitForStatus(first, ["completed"])
            let newest = try await core.store.lastPosition()
            let response = try await Self.open(client, lastEventID: "\(newest + 1000)")
            var chunks = response.body.makeAsyncIterator()
            var text = ""
            while !text.contains("event: stream.reset"), let chunk = try await chunks.next() { text += String(buffer: chunk) }
            let reset = try #require(Self.events(text).first)
            #expect(reset.type == "stream.reset")
            #expect(reset.id == "\(newest)")
            #expect(reset.data["newest"] == .int(newest))
            let second = try await Self.start(client, "hello")
            while !text.contains("event: run.completed"), let chunk = try await chunks.next() { text += String(buffer: chunk) }
            let live = Self.events(text).dropFirst()
            #expect(live.first?.type == "run.queued")
            #expect(live.allSatisfy { $0.data["run_id"]?.stringValue == second })
            #expect(live.first?.position == EventPosition(offset: newest + 1))
        }
    }
}
