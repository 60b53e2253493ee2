package import Logging
package import MoonflowEngine
package import MoonflowModel
import ServiceLifecycle
import Synchronization

/// Delivers the notifications runs queue in their outboxes (docs/integrations.md,
/// "Notifications"): to a connection as a JSON POST of the message, with the notification's id
/// as `Idempotency-Key`, or to the log (`log`). A failed attempt is retried with backoff; when
/// every attempt failed (or the failure cannot pass: an unknown channel, egress refused) the
/// notification is dead-lettered in its run's journal and kept as a `notification_failed` dead
/// letter, which `redrive` delivers again after a fix. A notification queued before a crash is
/// delivered when the process comes back (`deliverPending`). Deliveries run beside the runs: a
/// run never waits for one, and a failed one never fails a run.
package final class NotificationOutbox: Service, Sendable {
    /// How a delivery is retried.
    package struct Policy: Sendable {
        package var maxAttempts: Int
        package var initial: Duration
        package var max: Duration
        package init(maxAttempts: Int = 5, initial: Duration = .seconds(1), max: Duration = .seconds(60)) {
            self.maxAttempts = maxAttempts
            self.initial = initial
            self.max = max
        }
    }

    private let engine: Engine
    private let http: any HTTPCalling
    private let logger: Logger
    private let policy: Policy
    /// Notifications being delivered by this process, so a scan and the live stream never deliver one twice.
    private let inFlight = Mutex<Set<String>>([])

    package init(engine: Engine, http: any HTTPCalling, logger: Logger, policy: Policy = Policy()) {
        self.engine = engine
        self.http = http
        self.logger = logger
        self.policy = policy
    }

    /// Follows the runs' new notifications and delivers each, after the ones left pending. It
    /// subscribes to `notification.queued` only; if it falls behind the bus's buffer, it
    /// subscribes again and delivers what is pending (the outboxes hold what it missed).
    package func run() async throws {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let subscription = engine.bus.subscription(wants: { $0.type == .notificationQueued })
                group.addTask { await self.deliverPending() }
                for await event in subscription.cancelOnGracefulShutdown() {
                    guard case .notificationQueued(let notification) = event.payload else { continue }
                    group.addTask { await self.deliver(Engine.PendingNotification(runID: event.runID, notification: notification)) }
                }
                guard subscription.overflowed else { return }
            }
        }
    }

    /// Delivers every pending notification (of `runIDs` only, when given), one after another.
    package func deliverPending(of runIDs: Set<RunID>? = nil) async {
        let pending: [Engine.PendingNotification]
        do {
            pending = try await engine.pendingNotifications()
        } catch {
            logger.error("reading the outbox failed", metadata: ["error": .string("\(error)")])
            return
        }
        for notification in pending where runIDs?.contains(notification.runID) ?? true { await deliver(notification) }
    }

    /// One notification: attempts until one succeeds or they run out, then the outcome recorded.
    func deliver(_ pending: Engine.PendingNotification) async {
        let id = pending.notification.id
        guard inFlight.withLock({ $0.insert(id).inserted }) else { return }
        defer { _ = inFlight.withLock { $0.remove(id) } }
        var attempt = 0
        var failure: ActivityFailure?
        repeat {
            attempt += 1
            failure = await attemptDelivery(pending)
            guard let last = failure, last.retryable != false, attempt < policy.maxAttempts else { break }
            let wait = min(policy.initial * (1 << min(attempt - 1, 30)), policy.max)
            do { try await engine.clock.sleep(until: engine.clock.now + wait) } catch { return }
        } while true
        if let failure {
            logger.error(
                "notification dead-lettered",
                metadata: [
                    "run.id": .string(pending.runID), "channel": .string(pending.notification.channel), "notification": .string(id),
                    "attempts": .stringConvertible(attempt), "error": .string(failure.description),
                ])
        }
        do {
            try await engine.recordDelivery(pending, attempts: attempt, failure: failure)
        } catch {
            logger.error("recording a delivery failed", metadata: ["notification": .string(id), "error": .string("\(error)")])
        }
    }

    /// Delivers an open `notification_failed` dead letter once more (after a fix of the channel or
    /// its receiver), with the notification's id as `Idempotency-Key` as before: when the channel
    /// takes it the letter becomes `redriven` and the run's journal records the delivery; when it
    /// fails again the letter stays open (`DeadLetterError.refused` with the error).
    package func redrive(_ id: String) async throws -> EventDeadLetter {
        let letter = try await engine.openDeadLetter(id)
        guard let failed = letter.notification else {
            throw DeadLetterError.refused(id, reason: "a \(letter.kind.rawValue) dead letter starts a run, it is not delivered")
        }
        guard inFlight.withLock({ $0.insert(failed.notification.id).inserted }) else {
            throw DeadLetterError.refused(id, reason: "its notification is being delivered now")
        }
        defer { _ = inFlight.withLock { $0.remove(failed.notification.id) } }
        if let failure = await attemptDelivery(Engine.PendingNotification(runID: failed.runID, notification: failed.notification)) {
            throw DeadLetterError.refused(id, reason: "the delivery failed again: \(failure.description)")
        }
        return try await engine.recordRedelivery(letter)
    }

    /// `nil` when the channel took it.
    private func attemptDelivery(_ pending: Engine.PendingNotification) async -> ActivityFailure? {
        let notification = pending.notification
        if notification.channel == "log" {
            logger.warning(
                "notification",
                metadata: ["run.id": .string(pending.runID), "notification": .string(notification.id), "message": .string(notification.message.jsonString())])
            return nil
        }
        let request = HTTPCall(
            connection: notification.channel, method: "POST", body: .json(notification.message), idempotencyKey: notification.id)
        do throws(ActivityFailure) {
            let response = try await http.call(request)
            return response.failure(method: "POST", path: "")
        } catch {
            return error
        }
    }
}
