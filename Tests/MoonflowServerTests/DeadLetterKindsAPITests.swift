import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import MoonflowServer
import ServiceLifecycle
import Testing

/// The two dead-letter kinds besides a refused start (docs/operations.md, "Dead letters"): an
/// event whose trigger failed to evaluate, and a notification whose delivery failed, each listed
/// and shown with its `kind`, redriven after a fix (the run starts; the notification reaches its
/// receiver), discarded; a bad kind or id is a clear error that changes nothing.
@Suite("Dead letters: failed triggers and notifications", .timeLimit(.minutes(1)))
struct DeadLetterKindsAPITests {
    /// `when` indexes `event.customer`, which an event without a customer lacks.
    static func vip(when: String, event: String = "order:placed") -> String {
        """
        workflow: vip
        trigger:
          event: "\(event)"
          when: ${ \(when) }
        activities:
          - {name: a, run: "return {amount = input.amount}"}
        """
    }

    @Test func anEventWhoseTriggerFailedIsDeadLetteredAndRedrivenAfterAFix() async throws {
        let root = try TestServer.project(["workflows/vip.yaml": Self.vip(when: #"event.customer.tier == "gold""#)])
        defer { try? FileManager.default.removeItem(at: root) }
        try await TestServer.run(project: root) { client in
            var ids: [String] = []
            for event in ["evt-1", "evt-2"] {
                let answer = try await client.post("/v1/events", ["type": "order:placed", "id": .string(event), "payload": ["amount": 5]])
                // Nothing started, nothing refused by a schema: accepted, with the dead letter named.
                #expect(answer.status == 202, "\(answer.text)")
                #expect(answer.json["started"] == [])
                let rejected = try #require(answer.json["rejected"]?.arrayValue?.first)
                #expect(rejected["kind"] == "trigger_failed" && rejected["workflow"] == "vip")
                ids.append(try #require(rejected["dead_letter_id"]?.stringValue))
            }
            let list = try await client.get("/v1/dead-letters?kind=trigger_failed").json["dead_letters"]?.arrayValue ?? []
            #expect(list.map { $0["id"] } == ids.reversed().map(Value.string))
            #expect(list.allSatisfy { $0["kind"] == "trigger_failed" && $0["event"]?["type"] == "order:placed" })
            #expect(try await client.get("/v1/dead-letters?kind=notification_failed").json["dead_letters"] == [])
            let shown = try await client.get("/v1/dead-letters/\(ids[0])").json
            #expect(shown["kind"] == "trigger_failed" && shown["status"] == "open")
            #expect(shown["event"]?["payload"] == ["amount": 5] && shown["event"]?["id"] == "evt-1")
            let error = try #require(shown["errors"]?.arrayValue?.first?.stringValue)
            #expect(error.hasPrefix("trigger.when: ") && error.contains("customer"), "\(error)")

            // Not fixed yet: the trigger fails again, the letter stays open.
            let still = try await client.post("/v1/dead-letters/\(ids[0])/redrive")
            #expect(still.status == 409 && still.text.contains("its trigger still fails: trigger.when"), "\(still.text)")
            #expect(try await client.get("/v1/dead-letters/\(ids[0])").json["status"] == "open")

            try Self.vip(when: #"(event.customer or {}).tier ~= "free""#)
                .write(to: root.appendingPathComponent("workflows/vip.yaml"), atomically: true, encoding: .utf8)
            #expect(try await client.post("/v1/reload").status == 200)
            let redriven = try await client.post("/v1/dead-letters/\(ids[0])/redrive")
            #expect(redriven.status == 200, "\(redriven.text)")
            #expect(redriven.json["created"] == true && redriven.json["dead_letter"]?["status"] == "redriven")
            let runID = try #require(redriven.json["run_id"]?.stringValue)
            _ = try await client.waitForStatus(runID, ["completed"])
            #expect(try await client.get("/v1/runs/\(runID)/report").json["output"] == ["amount": 5])
            #expect(try await client.post("/v1/dead-letters/\(ids[0])/redrive").status == 409)

            let discarded = try await client.post("/v1/dead-letters/\(ids[1])/discard")
            #expect(discarded.status == 200 && discarded.json["status"] == "discarded" && discarded.json["kind"] == "trigger_failed")
            #expect(try await client.post("/v1/dead-letters/\(ids[1])/redrive").status == 409)
        }
    }

    /// An event a script emits whose trigger fails is kept the same way, with the emitting run.
    @Test func anEmittedEventWhoseTriggerFailedIsDeadLettered() async throws {
        let files = [
            "workflows/vip.yaml": Self.vip(when: #"event.customer.tier == "gold""#, event: "order.placed"),
            "workflows/shop.yaml": """
                workflow: shop
                activities:
                  - {name: a, run: "emit('order.placed', {amount = 7}) return 1"}
                """,
        ]
        try await TestServer.run(files) { client in
            let run = try #require(try await client.post("/v1/runs", ["workflow": "shop"]).json["run_id"]?.stringValue)
            _ = try await client.waitForStatus(run, ["completed"])
            let listed = try await Self.waitForLetter(client, kind: "trigger_failed")
            #expect(listed["workflow"] == "vip" && listed["status"] == "open")
            #expect(listed["event"] == ["type": "order.placed", "id": .null, "source": "emit", "run_id": .string(run)])
            let id = try #require(listed["id"]?.stringValue)
            let letter = try await client.get("/v1/dead-letters/\(id)").json
            #expect(letter["event"]?["payload"] == ["amount": 7] && letter["input"] == .null)
            #expect(letter["errors"]?.arrayValue?.first?.stringValue?.hasPrefix("trigger.when: ") == true, "\(letter)")
        }
    }

    @Test func badKindsAndIdsAreClearErrors() async throws {
        try await TestServer.run(["workflows/vip.yaml": Self.vip(when: "true")]) { client in
            let kind = try await client.get("/v1/dead-letters?kind=lost_mail")
            #expect(kind.status == 400, "\(kind.text)")
            #expect(kind.json["error"]?["message"] == "query.kind: unknown dead letter kind 'lost_mail' (one of refused_start, trigger_failed, notification_failed)")
            for path in ["/v1/dead-letters/dl-nope", "/v1/dead-letters/dl-nope/redrive", "/v1/dead-letters/dl-nope/discard"] {
                let answer = path.hasSuffix("nope") ? try await client.get(path) : try await client.post(path)
                #expect(answer.status == 404 && answer.text.contains("dead letter 'dl-nope'"), "\(path): \(answer.text)")
            }
        }
    }

    static let payout = """
        workflow: payout
        error_handling:
          workflow_error: {notification: {channels: [ops_webhook], recipients: [oncall]}}
        activities:
          - {name: pay, call: fail, with: {type: Declined, message: card declined}}
        """

    /// A real receiver (`moonflow mock-services`) answers the first two deliveries 503, then 200:
    /// the outbox's two attempts fail and the notification is dead-lettered; the redrive, after
    /// the receiver recovered, is the one it takes.
    @Test func aNotificationWhoseDeliveryFailedIsDeadLetteredAndRedeliveredAfterAFix() async throws {
        let down = HTTPCallResponse(status: 503, body: .text("down"))
        let up = HTTPCallResponse(status: 200, body: .text("ok"))
        let receiver = try await Receiver.start(
            MockServices([down, down, up].map { WorkflowTestCase.HTTPMock(connection: "hooks", method: "POST", path: "/T0", response: $0) }))
        defer { receiver.stop() }
        let root = try TestServer.project(["workflows/payout.yaml": Self.payout])
        defer { try? FileManager.default.removeItem(at: root) }
        var config = Tokens.config
        config.connections["ops_webhook"] = Connection(
            name: "ops_webhook", url: "http://127.0.0.1:\(receiver.port)/hooks/T0", allowPrivateNetwork: true)
        var options = RuntimeOptions(
            project: root, config: config, store: .existing(InMemoryRunStore()), logger: TestServer.quietLogger, serving: ServingOptions())
        options.notificationDelivery = .init(maxAttempts: 2, initial: .milliseconds(10))
        let runtime = try Runtime.make(options)
        try await TestServer.run(runtime: runtime, ServerOptions(port: 0, keepAlive: .milliseconds(200))) { client, _ in
            let started = try await client.post("/v1/runs", ["workflow": "payout", "input": [:]])
            let runID = try #require(started.json["run_id"]?.stringValue)
            _ = try await client.waitForStatus(runID, ["failed"])
            let letter = try await Self.waitForLetter(client, kind: "notification_failed")
            let id = try #require(letter["id"]?.stringValue)
            #expect(letter["workflow"] == "payout" && letter["status"] == "open" && letter["event"] == nil)
            #expect(letter["notification"]?["run_id"] == .string(runID) && letter["notification"]?["channel"] == "ops_webhook")
            #expect(letter["notification"]?["attempts"] == 2 && letter["notification"]?["message"] == nil)
            let shown = try await client.get("/v1/dead-letters/\(id)").json
            #expect(shown["notification"]?["message"]?["event"] == "run.failed" && shown["notification"]?["message"]?["run_id"] == .string(runID))
            #expect(shown["errors"]?.arrayValue?.first?.stringValue?.contains("503") == true, "\(shown)")
            #expect(try await client.get("/v1/dead-letters?kind=trigger_failed").json["dead_letters"] == [])

            let redriven = try await client.post("/v1/dead-letters/\(id)/redrive")
            #expect(redriven.status == 200, "\(redriven.text)")
            #expect(redriven.json["delivered"] == true && redriven.json["dead_letter"]?["status"] == "redriven")
            #expect(redriven.json["run_id"] == nil)
            let journal = try await client.get("/v1/runs/\(runID)/history").json
            let types = (journal["events"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }
            #expect(types.suffix(2) == ["notification.dead_lettered", "notification.delivered"], "\(types)")
            let again = try await client.post("/v1/dead-letters/\(id)/redrive")
            #expect(again.status == 409 && again.text.contains("redriven already"), "\(again.text)")
            #expect(try await client.post("/v1/dead-letters/\(id)/discard").status == 409)
            #expect(try await client.get("/v1/runs/\(runID)").json["status"] == "failed")
        }
    }

    /// The first dead letter of `kind`, once the outbox has stored it.
    static func waitForLetter(_ client: Client, kind: String) async throws -> Value {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let letter = try await client.get("/v1/dead-letters?kind=\(kind)").json["dead_letters"]?.arrayValue?.first { return letter }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw NoDeadLetter(kind: kind)
    }

    struct NoDeadLetter: Error { var kind: String }
}

/// `MockServices` served on a free loopback port, for as long as a test needs it.
struct Receiver {
    let port: Int
    let task: Task<Void, any Error>

    static func start(_ services: MockServices) async throws -> Receiver {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let application = services.application(host: "127.0.0.1", port: 0, logger: TestServer.quietLogger) { continuation.yield($0) }
        let task = Task { try await application.runService() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return Receiver(port: port, task: task)
    }

    func stop() { task.cancel() }
}
