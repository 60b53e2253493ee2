import MoonflowEngine
import MoonflowModel
import Testing

/// `fallback.notify` and `workflow_error.notification`: events on the bus, nothing more, until
/// channels deliver them.
@Suite(.timeLimit(.minutes(1))) struct NotificationTests {
    /// Every bus event up to a marker published after the run ended.
    private static func busTypes(_ h: Harness, _ workflow: Workflow) async throws -> (ExecutionReport, [String]) {
        let events = h.engine.events()
        let report = try await h.run(workflow)
        h.engine.bus.publish([RunEvent(.emitted(type: "test.end", payload: [:]), runID: "-", workflow: "-", at: h.clock.now)])
        var seen: [String] = []
        for await event in events {
            if event.type.rawValue == "test.end" { break }
            seen.append(event.type.rawValue)
        }
        return (report, seen)
    }

    @Test(arguments: [true, false])
    func fallbackIsAnnouncedOnlyWithNotify(notify: Bool) async throws {
        let h = Harness(["a": failing(.init("Down"))])
        let workflow = Workflow(
            id: "fb", activities: [lua("a", retry: RetryPolicy(maxAttempts: 1), fallback: Fallback(.skip, notify: notify))])
        let (report, seen) = try await Self.busTypes(h, workflow)
        #expect(report.status == .completed)
        #expect(seen.contains("activity.fallback") == notify, "\(seen)")
        // The journal keeps the fallback either way: it is the run's history.
        #expect(try await h.journalTypes().contains("activity.fallback"))
    }

    @Test func aFailedRunWithANotificationAnnouncesIt() async throws {
        let h = Harness(["a": failing(.init("Down"))])
        var workflow = Workflow(id: "wf", activities: [lua("a", retry: RetryPolicy(maxAttempts: 1))])
        let (_, quiet) = try await Self.busTypes(h, workflow)
        #expect(!quiet.contains("run.notification"))

        let h2 = Harness(["a": failing(.init("Down"))])
        workflow.errorHandling.notification = .init(channels: ["log"], recipients: ["ops@example.com"])
        let events = h2.engine.events()
        let report = try await h2.run(workflow)
        #expect(report.status == .failed)
        var notification: RunEvent?
        for await event in events where event.type.rawValue == "run.notification" {
            notification = event
            break
        }
        #expect(notification?.data["channels"] == ["log"])
        #expect(notification?.data["recipients"] == ["ops@example.com"])
        #expect(notification?.data["status"] == "failed")
        #expect(notification?.data["error"]?["type"] == "Down")
    }
}
