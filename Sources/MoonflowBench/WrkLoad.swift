import Foundation

/// The load generator of the `http` scenario: `wrk` (the Debian package `wrk`), run as a child
/// process against a loopback port with a Lua script that sets the request and counts answers by
/// status. Its answer counts are what the client saw; what the server did is read from the store.
struct WrkLoad {
    /// One request, repeated on every connection.
    struct Request {
        var method: String
        var path: String
        var body: String?
    }

    /// What one `wrk` run reported.
    struct Result {
        var requests: Int
        var duration: Duration
        /// Answers by status class: 2xx, 503, anything else (socket errors are `errors`).
        var succeeded: Int
        var refused: Int
        var other: Int
        var errors: Int

        var requestsPerSecond: Double { Double(requests) / (Bench.nanos(duration) / 1e9) }
    }

    let executable: URL
    var threads = 1
    var connections = 64

    /// `wrk` from `PATH`; throws a `BenchError` saying how to install it when there is none.
    static func locate() throws -> WrkLoad {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("wrk")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return WrkLoad(executable: candidate) }
        }
        throw BenchError(
            description: "http: the load generator wrk is not installed (not found on PATH): install the Debian package (apt-get install wrk), or run the other scenarios")
    }

    /// Runs `request` against `127.0.0.1:port` for `duration` and returns what wrk counted. The
    /// child is awaited through its termination handler: waiting on it would hold a thread of the
    /// pool the server in this process runs on.
    func run(_ request: Request, port: Int, duration: Duration, in directory: URL) async throws -> Result {
        let script = directory.appendingPathComponent("wrk-\(UUID().uuidString).lua")
        try Data(Self.script(request).utf8).write(to: script)
        defer { try? FileManager.default.removeItem(at: script) }
        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "-t\(threads)", "-c\(connections)", "-d\(max(1, duration.components.seconds))s", "--timeout", "10s", "-s", script.path,
            "http://127.0.0.1:\(port)\(request.path)",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard status == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("moonflow-wrk ") }) else {
            throw BenchError(description: "http: wrk exited with status \(status):\n\(text)")
        }
        let fields = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard fields.count == 6 else { throw BenchError(description: "http: unexpected wrk summary '\(line)'") }
        return Result(
            requests: fields[0], duration: .microseconds(fields[1]), succeeded: fields[2], refused: fields[3], other: fields[4],
            errors: fields[5])
    }

    /// The request at top level (wrk builds it once per thread), a per-thread count of answers by
    /// status, and one summary line that `run` parses.
    static func script(_ request: Request) -> String {
        var lines = ["wrk.method = \"\(request.method)\""]
        if let body = request.body {
            lines.append("wrk.body = [[\(body)]]")
            lines.append("wrk.headers[\"Content-Type\"] = \"application/json\"")
        }
        lines.append(
            """
            local threads = {}
            function setup(thread) table.insert(threads, thread) end
            succeeded, refused, other = 0, 0, 0
            function response(status, headers, body)
              if status >= 200 and status < 300 then succeeded = succeeded + 1
              elseif status == 503 then refused = refused + 1
              else other = other + 1 end
            end
            function done(summary, latency, requests)
              local s, r, o = 0, 0, 0
              for _, thread in ipairs(threads) do
                s = s + thread:get("succeeded"); r = r + thread:get("refused"); o = o + thread:get("other")
              end
              local e = summary.errors
              io.write(string.format("moonflow-wrk %d %d %d %d %d %d\\n", summary.requests, summary.duration, s, r, o,
                e.connect + e.read + e.write + e.timeout))
            end
            """)
        return lines.joined(separator: "\n") + "\n"
    }
}
