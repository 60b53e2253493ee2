import Foundation
import Hummingbird
import Metrics
import MoonflowEngine
import MoonflowModel
import OrderedCollections
import Prometheus

/// Reload, monitoring, metrics and health.
enum OperationRoutes {
    /// `metrics` is `nil` when moonflow.yaml says `monitoring: {metrics: false}`: `/metrics` is then a 404.
    static func add(to router: Router<APIContext>, core: ServerCore, metrics: PrometheusCollectorRegistry?) {
        router.post("/v1/reload") { _, context in
            _ = try context.require(.reload)
            let outcome = core.reload(reason: "POST /v1/reload")
            guard outcome.status != .invalid else {
                throw APIError(
                    .unprocessableContent, "InvalidProject", "the project does not validate; the previous definitions keep serving",
                    details: ["errors": .array(outcome.diagnostics.map(\.apiValue))])
            }
            guard outcome.status != .failed else {
                throw APIError(.serviceUnavailable, "ReloadFailed", outcome.failure ?? "the project could not be read; the previous definitions keep serving")
            }
            return JSONResponse.make([
                "status": .string(outcome.status.rawValue), "added": .array(outcome.added.map(Value.string)),
                "changed": .array(outcome.changed.map(Value.string)), "removed": .array(outcome.removed.map(Value.string)),
            ])
        }
        router.get("/v1/monitoring") { _, context in
            _ = try context.require(.read)
            var figures = try await monitoring(core).apiFields
            // On a shared store (PostgreSQL), the cluster's engine processes (docs/scale-out.md).
            if let shared = core.store as? any SharedRunStore {
                figures["processes"] = .array(try await shared.processes().map(\.apiValue))
            }
            return JSONResponse.make(.object(figures))
        }
        router.get("/metrics") { _, context in
            _ = try context.require(.metrics)
            guard let metrics else { throw APIError.notFound("metrics are off: moonflow.yaml has monitoring: {metrics: false}") }
            recordGauges(try await monitoring(core), backlog: core.dispatcher.backlogCount)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
        }
        router.get("/health") { _, _ in
            JSONResponse.make(["status": "ok"])
        }
    }

    /// "Today" is the current UTC day.
    static func monitoring(_ core: ServerCore) async throws -> MonitoringSnapshot {
        let now = core.engine.clock.now
        let day: Int64 = 86_400_000_000_000
        let dayStart = Timestamp(nanosecondsSinceEpoch: now.nanosecondsSinceEpoch - now.nanosecondsSinceEpoch % day)
        return try await core.engine.monitoring(dayStart: dayStart)
    }

    /// Gauges read from the live registries at scrape time (docs/api.md); the engine records the
    /// counters and the histogram as runs progress.
    static func recordGauges(_ snapshot: MonitoringSnapshot, backlog: Int) {
        Gauge(label: "moonflow_run_backlog").record(backlog)
        for breaker in snapshot.breakers {
            Gauge(label: "moonflow_circuit_state", dimensions: [("breaker", breaker.name)]).record(breaker.state.gaugeLevel)
        }
        for bulkhead in snapshot.bulkheads {
            Gauge(label: "moonflow_bulkhead_in_use", dimensions: [("bulkhead", bulkhead.name)]).record(bulkhead.inUse)
            Gauge(label: "moonflow_bulkhead_queue_depth", dimensions: [("bulkhead", bulkhead.name)]).record(bulkhead.queued)
        }
        Gauge(label: "moonflow_queue_depth").record(snapshot.queueDepth)
        for status in [RunStatus.queued, .running, .waiting, .compensating] {
            Gauge(label: "moonflow_runs_active", dimensions: [("status", status.rawValue)]).record(snapshot.activeRuns[status] ?? 0)
        }
    }
}

extension MonitoringSnapshot {
    var apiFields: OrderedDictionary<String, Value> {
        [
            "active_runs": .object(OrderedDictionary(uniqueKeysWithValues: activeRuns.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key.rawValue, Value.int(Int64($0.value))) })),
            "active_total": .int(Int64(activeRuns.values.reduce(0, +))),
            "completed_today": .int(Int64(completedToday)), "failed_today": .int(Int64(failedToday)),
            "average_duration_ms": averageDurationMs.map(Value.double) ?? .null,
            "last_hour": lastHour.apiValue,
            "queue_depth": .int(Int64(queueDepth)),
            "breakers": .array(
                breakers.map { breaker in
                    [
                        "name": .string(breaker.name), "state": .string(breaker.state.rawValue),
                        "consecutive_failures": .int(Int64(breaker.consecutiveFailures)),
                        "opened_at": breaker.openedAt.map { .string($0.iso8601) } ?? .null,
                    ]
                }),
            "bulkheads": .array(
                bulkheads.map { bulkhead in
                    [
                        "name": .string(bulkhead.name), "in_use": .int(Int64(bulkhead.inUse)), "queued": .int(Int64(bulkhead.queued)),
                        "max_concurrent": .int(Int64(bulkhead.maxConcurrent)), "max_queue_size": .int(Int64(bulkhead.maxQueueSize)),
                    ]
                }),
        ]
    }
}

extension EngineProcess {
    var apiValue: Value {
        [
            "id": .string(id), "host": .string(host), "pid": .int(Int64(pid)), "last_heartbeat": .string(lastHeartbeat.iso8601),
            "alive": .bool(alive), "runs_owned": .int(Int64(runsOwned)),
        ]
    }
}

extension RecentOutcomes {
    var apiValue: Value {
        [
            "window_seconds": .int(RecentOutcomes.window.components.seconds),
            "runs_ended": .int(Int64(runsEnded)), "runs_completed": .int(Int64(runsCompleted)), "runs_errored": .int(Int64(runsErrored)),
            "success_rate": successRate.map(Value.double) ?? .null, "error_rate": errorRate.map(Value.double) ?? .null,
            "runs_per_minute": .double(runsPerMinute),
            "activities_ended": .int(Int64(activitiesEnded)), "activities_per_minute": .double(activitiesPerMinute),
            "run_duration_ms": Self.apiValue(runDurations), "activity_duration_ms": Self.apiValue(activityDurations),
        ]
    }

    private static func apiValue(_ percentiles: DurationPercentiles?) -> Value {
        guard let percentiles else { return ["p50": .null, "p95": .null, "p99": .null] }
        return [
            "p50": .double(percentiles.p50.milliseconds), "p95": .double(percentiles.p95.milliseconds),
            "p99": .double(percentiles.p99.milliseconds),
        ]
    }
}
