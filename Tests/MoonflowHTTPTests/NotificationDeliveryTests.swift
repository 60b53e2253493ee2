import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import Synchronization
import Testing

/// Notifications through the runs' outboxes (docs/integrations.md, "Notifications"), delivered to
/// a real loopback service.
@Suite struct NotificationDeliveryTests {
    static func config(_ stub: ServiceStub) -> String {
        "connections: {ops_webhook: {url: '\(stub.base)/hooks/T0', allow_private_network: true}}"
    }

    static let failing = """
        workflow: payout
        error_handling:
          workflow_error: {notification: {channels: [ops_webhook, log], recipients: [oncall]}}
        activities:
          - name: pay
            call: fail
            with: {type: Declined, message: card declined}
        """

    func runtime(_ project: HTTPProject, store: StoreSelection = .memory) throws -> Runtime {
        let config = try Runtime.configuration(project: project.url).get()
        var options = RuntimeOptions(project: project.url, config: config, store: store, logger: HTTPProject.quiet, environment: [:])
        options.notificationDelivery = .init(maxAttempts: 3, initial: .milliseconds(10))
        return try Runtime.make(options)
    }

    @Test func aFailedRunsNotificationIsWrittenWithTheFailureAndDeliveredOnce() async throws {
        let stub = try await ServiceStub.start { _ in .json(#"{"ok": true}"#) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(config: Self.config(stub), workflows: ["payout": Self.failing])
        let runtime = try runtime(project)
        let report = try await project.run("payout", on: runtime)
        #expect(report.status == .failed)
        // Queued in the transaction that failed the run, one per channel, nothing delivered yet.
        let types = try await runtime.store.journal(of: report.runID).map(\.type.rawValue)
        #expect(types.suffix(3) == ["run.failed", "notification.queued", "notification.queued"])
        #expect(stub.requests.isEmpty)

        await runtime.outbox.deliverPending(of: [report.runID])
        await runtime.outbox.deliverPending()
        let request = try #require(stub.requests.first)
        #expect(stub.requests.count == 1)
        #expect(request.method == "POST" && request.path == "/hooks/T0")
        let queuedAt = types.count - 1
        #expect(request.header("Idempotency-Key") == "\(report.runID):\(queuedAt)")
        let message = try Value(json: request.text)
        #expect(message["event"] == "run.failed" && message["workflow"] == "payout" && message["run_id"] == .string(report.runID))
        #expect(message["activity"] == "pay" && message["recipients"] == ["oncall"] && message["error"]?["type"] == "Declined")
        #expect(message["url"] == .string("/v1/runs/\(report.runID)"))
        let after = try await runtime.store.journal(of: report.runID)
        #expect(after.suffix(2).map(\.type.rawValue) == ["notification.delivered", "notification.delivered"])
        #expect(try await runtime.store.state(of: report.runID)?.outbox.isEmpty == true)
        #expect(try await runtime.engine.report(report.runID).status == .failed)
    }

    @Test func aDeliveryThatKeepsFailingIsDeadLetteredAndTheRunIsUntouched() async throws {
        let stub = try await ServiceStub.start { _ in .text("down", status: 503) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(config: Self.config(stub), workflows: ["payout": Self.failing.replacingOccurrences(of: ", log]", with: "]")])
        let runtime = try runtime(project)
        let report = try await project.run("payout", on: runtime)
        await runtime.outbox.deliverPending()
        #expect(stub.requests.count == 3)
        #expect(Set(stub.requests.map { $0.header("Idempotency-Key") }).count == 1)
        let last = try #require(try await runtime.store.journal(of: report.runID).last)
        guard case .notificationDeadLettered(_, let channel, let attempts, let error) = last.payload else {
            Issue.record("expected a dead letter, got \(last.type)")
            return
        }
        #expect(channel == "ops_webhook" && attempts == 3 && error.type == "HttpError")
        #expect(try await runtime.engine.report(report.runID).status == .failed)
    }

    /// The dead letter a failed delivery leaves (`notification_failed`): a redrive while the
    /// receiver is still down fails and leaves it open; once the receiver is back, the redrive
    /// delivers the same message under the same `Idempotency-Key`, the letter is `redriven` and
    /// the run's journal records the delivery; a second redrive is refused and sends nothing.
    @Test func aDeadLetteredNotificationIsRedeliveredOnceTheReceiverRecovers() async throws {
        final class Receiver: Sendable { let up = Mutex(false) }
        let receiver = Receiver()
        let stub = try await ServiceStub.start { _ in receiver.up.withLock { $0 } ? .json("{}") : .text("down", status: 503) }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(config: Self.config(stub), workflows: ["payout": Self.failing.replacingOccurrences(of: ", log]", with: "]")])
        let runtime = try runtime(project)
        let report = try await project.run("payout", on: runtime)
        await runtime.outbox.deliverPending()
        #expect(stub.requests.count == 3)
        let letters = try await runtime.store.eventDeadLetters(workflow: "payout")
        let letter = try #require(letters.first)
        #expect(letters.count == 1 && letter.kind == .notificationFailed && letter.status == .open && letter.event == nil)
        #expect(letter.notification?.runID == report.runID && letter.notification?.attempts == 3)
        #expect(letter.notification?.notification.channel == "ops_webhook")
        #expect(letter.errors.count == 1 && letter.errors[0].contains("503"), "\(letter.errors)")
        // Delivering the pending ones again finds nothing: the dead letter is the only way back.
        await runtime.outbox.deliverPending()
        #expect(stub.requests.count == 3)

        await #expect(throws: DeadLetterError.self) { try await runtime.outbox.redrive(letter.id) }
        #expect(stub.requests.count == 4)
        #expect(try await runtime.store.eventDeadLetter(id: letter.id)?.status == .open)

        receiver.up.withLock { $0 = true }
        let redriven = try await runtime.outbox.redrive(letter.id)
        #expect(redriven.status == .redriven)
        #expect(try await runtime.store.eventDeadLetter(id: letter.id)?.status == .redriven)
        #expect(stub.requests.count == 5)
        let first = try #require(stub.requests.first)
        let last = try #require(stub.requests.last)
        #expect(last.header("Idempotency-Key") == first.header("Idempotency-Key") && last.text == first.text)
        #expect(try Value(json: last.text)["run_id"] == .string(report.runID))
        let journal = try await runtime.store.journal(of: report.runID).map(\.type.rawValue)
        #expect(journal.suffix(2) == ["notification.dead_lettered", "notification.delivered"])
        await #expect(throws: DeadLetterError.refused(letter.id, reason: "it was redriven already")) {
            try await runtime.outbox.redrive(letter.id)
        }
        #expect(stub.requests.count == 5)
        #expect(try await runtime.engine.report(report.runID).status == .failed)
    }

    @Test func fallbacksAndTaskAssignmentsNotifyTheirChannels() async throws {
        let stub = try await ServiceStub.start { _ in .json("{}") }
        defer { Task { await stub.stop() } }
        let workflow = """
            workflow: review
            error_handling:
              workflow_error: {notification: {channels: [ops_webhook], recipients: [oncall]}}
            activities:
              - name: score
                call: fail
                with: {type: Flaky}
                fallback: {output: {score: 0}, notify: true}
              - name: approve
                needs: [score]
                type: manual
                assign: {users: [alice], groups: [risk]}
                notify: [ops_webhook]
            """
        let project = try HTTPProject(config: Self.config(stub), workflows: ["review": workflow])
        let runtime = try runtime(project)
        let report = try await project.run("review", on: runtime)
        #expect(report.status == .waiting)
        await runtime.outbox.deliverPending()
        let messages = try stub.requests.map { try Value(json: $0.text) }
        #expect(messages.map { $0["event"] } == ["activity.fallback", "task.assigned"])
        #expect(messages[0]["activity"] == "score" && messages[0]["error"]?["type"] == "Flaky")
        #expect(messages[1]["recipients"] == ["alice", "group:risk"] && messages[1]["task"] != nil)
    }

    @Test func theServedOutboxDeliversAsRunsQueue() async throws {
        let stub = try await ServiceStub.start { _ in .json("{}") }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(config: Self.config(stub), workflows: ["payout": Self.failing])
        let runtime = try runtime(project)
        let service = Task { try await runtime.outbox.run() }
        defer { service.cancel() }
        let report = try await project.run("payout", on: runtime)
        let deadline = ContinuousClock.now + .seconds(10)
        while stub.requests.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(stub.requests.count == 1)
        #expect(stub.requests.first?.header("Idempotency-Key")?.hasPrefix(report.runID + ":") == true)
    }

    @Test func aNotificationQueuedBeforeACrashIsDeliveredOnceAfterIt() async throws {
        let stub = try await ServiceStub.start { _ in .json("{}") }
        defer { Task { await stub.stop() } }
        let project = try HTTPProject(
            config: Self.config(stub), workflows: ["payout": Self.failing.replacingOccurrences(of: ", log]", with: "]")])
        // Killed as soon as the failure (and its queued notification) committed.
        #expect(try project.moonflow(["run", "payout", "--run-id", "p1"], failpoints: "after_commit:run_failed").status == 137)
        #expect(stub.requests.isEmpty)
        #expect(try project.moonflow(["runs", "resume"]).status == 0)
        #expect(try project.moonflow(["runs", "resume"]).status == 0)
        #expect(stub.requests.count == 1)
        #expect(stub.requests.first?.header("Idempotency-Key")?.hasPrefix("p1:") == true)
    }
}
