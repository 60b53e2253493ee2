import Foundation
import MoonflowEngine
import MoonflowModel
import Testing

/// `GET /metrics` as Prometheus reads it and `/v1/monitoring`'s last hour (docs/api.md,
/// "Metrics" and "Monitoring"), on a live server.
@Suite("Metrics exposition and the last hour of monitoring")
struct MetricsExpositionTests {
    static let broken = """
        workflow: broken
        activities:
          - name: boom
            run: error({type = "Boom", message = "no", retryable = false})
        """

    static var project: [String: String] { Fixtures.project.merging(["workflows/broken.yaml": broken]) { $1 } }

    /// Two runs that complete and one that fails, each awaited to its end.
    static func runSome(_ client: Client) async throws {
        for (workflow, status) in [("hello", "completed"), ("guarded", "completed"), ("broken", "failed")] {
            let id = try #require(try await client.post("/v1/runs", ["workflow": .string(workflow)]).json["run_id"]?.stringValue)
            #expect(try await client.waitForStatus(id, [status])["status"]?.stringValue == status)
        }
    }

    /// `promtool` from Debian's `prometheus` package, when it is on the PATH.
    static let promtool: URL? = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .map { URL(fileURLWithPath: String($0)).appendingPathComponent("promtool") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }

    @Test func metricsOffInMoonflowYAMLIsA404() async throws {
        let config = Tokens.config(adding: "monitoring: {metrics: false}")
        #expect(config.metricsEnabled == false)
        try await TestServer.run(Fixtures.project, config: config) { client in
            let metrics = try await client.get("/metrics", token: Tokens.operator)
            #expect(metrics.status == 404)
            #expect(metrics.json["error"]?["type"] == "NotFound")
            #expect(metrics.json["error"]?["message"]?.stringValue?.contains("monitoring: {metrics: false}") == true)
            #expect(try await client.get("/v1/monitoring").status == 200)
        }
    }

    @Test func everyFamilyHasHelpAndTypeFromTheCatalog() async throws {
        try await TestServer.run(Self.project) { client in
            try await Self.runSome(client)
            let text = try await client.get("/metrics", token: Tokens.operator).text
            var help: [String: String] = [:]
            var type: [String: String] = [:]
            var sampled = Set<String>()
            for line in text.split(separator: "\n").map(String.init) {
                let words = line.split(separator: " ", maxSplits: 3).map(String.init)
                if line.hasPrefix("# HELP "), words.count == 4 {
                    help[words[2]] = words[3]
                } else if line.hasPrefix("# TYPE "), words.count == 4 {
                    type[words[2]] = words[3]
                } else if !line.hasPrefix("#") {
                    let name = String(line.prefix { $0 != "{" && $0 != " " })
                    let family = ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) && type[name] == nil }
                        .map { String(name.dropLast($0.count)) } ?? name
                    sampled.insert(family)
                }
            }
            for family in sampled {
                #expect(help[family]?.isEmpty == false, "\(family) has no # HELP")
                #expect(type[family] != nil, "\(family) has no # TYPE")
            }
            for metric in MetricCatalog.all where sampled.contains(metric.name) {
                #expect(help[metric.name] == metric.help)
                #expect(type[metric.name] == metric.kind.rawValue)
            }
            #expect(type["moonflow_run_duration_seconds"] == "histogram")
            #expect(text.contains(#"moonflow_run_duration_seconds_bucket{workflow="broken",status="failed",le="604800.0"} "#))
            #expect(text.contains(#"moonflow_activity_duration_seconds_bucket{workflow="hello",activity="greet",le="86400.0"} "#))
            #expect(text.contains(#"moonflow_runs_total{workflow="broken",status="failed"} "#))
        }
    }

    @Test(.enabled(if: promtool != nil, "promtool is not installed (Debian package prometheus): skipped"))
    func promtoolChecksTheScrape() async throws {
        try await TestServer.run(Self.project) { client in
            try await Self.runSome(client)
            let scrape = try await client.get("/metrics", token: Tokens.operator)
            #expect(scrape.status == 200)
            let promtool = Process()
            promtool.executableURL = Self.promtool
            promtool.arguments = ["check", "metrics"]
            let input = Pipe()
            let output = Pipe()
            promtool.standardInput = input
            promtool.standardOutput = output
            promtool.standardError = output
            try promtool.run()
            input.fileHandleForWriting.write(Data(scrape.text.utf8))
            try input.fileHandleForWriting.close()
            let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            promtool.waitUntilExit()
            #expect(promtool.terminationStatus == 0, "promtool check metrics: \(report)")
            #expect(report.isEmpty, "promtool check metrics: \(report)")
        }
    }

    @Test func monitoringReportsTheLastHour() async throws {
        try await TestServer.run(Self.project) { client in
            try await Self.runSome(client)
            let answer = try await client.get("/v1/monitoring", token: Tokens.alice)
            #expect(answer.status == 200)
            let hour = try #require(answer.json["last_hour"])
            #expect(hour["window_seconds"] == 3600)
            #expect(hour["runs_ended"] == 3)
            #expect(hour["runs_completed"] == 2)
            #expect(hour["runs_errored"] == 1)
            #expect(hour["success_rate"]?.numberValue == 2.0 / 3)
            #expect(hour["error_rate"]?.numberValue == 1.0 / 3)
            #expect(hour["runs_per_minute"]?.numberValue == 3.0 / 60)
            #expect(hour["activities_ended"] == 3)
            #expect(hour["activities_per_minute"]?.numberValue == 3.0 / 60)
            for key in ["run_duration_ms", "activity_duration_ms"] {
                let p50 = try #require(hour[key]?["p50"]?.numberValue, "\(key).p50")
                let p95 = try #require(hour[key]?["p95"]?.numberValue, "\(key).p95")
                let p99 = try #require(hour[key]?["p99"]?.numberValue, "\(key).p99")
                #expect(0 <= p50 && p50 <= p95 && p95 <= p99 && p99 < 20_000, "\(key): \(p50) \(p95) \(p99)")
            }
        }
    }

    /// docs/api.md has a row for every metric: its name, type and labels.
    @Test func everyMetricIsDocumented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/api.md")
        let rows = try String(contentsOf: docs, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("| `moonflow_") }
        for metric in MetricCatalog.all {
            let row = rows.first { $0.hasPrefix("| `\(metric.name)` |") }
            #expect(row?.contains("| \(metric.kind.rawValue) |") == true, "docs/api.md: no row for \(metric.name) (\(metric.kind))")
            let labels = metric.labels.isEmpty ? "–" : metric.labels.map { "`\($0)`" }.joined(separator: ", ")
            #expect(row?.contains("| \(labels) |") == true, "docs/api.md: \(metric.name) has labels \(labels)")
        }
        #expect(rows.count == MetricCatalog.all.count)
    }
}
