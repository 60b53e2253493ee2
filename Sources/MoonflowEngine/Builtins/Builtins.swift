import Foundation
import Logging
import MoonflowModel

/// The built-in system functions usable as `call:` bodies (docs/sandbox.md), except `sleep` as an
/// activity body, which the driver turns into a durable timer.
enum Builtins {
    /// Makes the request of `call: http` (`DriverEnvironment.callHTTP`).
    typealias HTTP = @Sendable (Value) async throws(ActivityFailure) -> Value

    /// Runs a built-in with its rendered input (`with:`). Only `log` needs the logger, which is
    /// built on demand: setting metadata on a stream handler renders it, which cost more than a `noop`.
    static func run(
        _ builtin: Builtin, input: Value, clock: any EngineClock, http: HTTP, logger: () -> Logger
    ) async throws(ActivityFailure) -> ScriptOutcome {
        switch builtin {
        case .http:
            return ScriptOutcome(output: try await http(input))
        case .noop:
            return ScriptOutcome(output: .null)
        case .log:
            let level: Logger.Level
            if let name = input["level"] {
                // A literal level was checked at load; one computed by an expression is checked here.
                guard let known = name.stringValue.flatMap(ScriptLogLevel.level) else {
                    throw ActivityFailure(
                        .activityError, "log: level must be one of \(ScriptLogEntry.levels.joined(separator: ", ")), not \(name.jsonString())",
                        retryable: false)
                }
                level = known
            } else {
                level = .info
            }
            let message = input["message"]?.stringValue ?? input.jsonString()
            logger().log(level: level, "\(message)", metadata: input["fields"].map { ["fields": .string($0.jsonString())] })
            return ScriptOutcome(output: .null)
        case .emit:
            guard let type = input["type"]?.stringValue else {
                throw ActivityFailure(.activityError, "emit needs `with: {type, payload}`", retryable: false)
            }
            return ScriptOutcome(output: .null, events: [EmittedEvent(type: type, payload: input["payload"] ?? .object([:]))])
        case .sleep:
            // Outside an activity body (a fallback or compensation) the wait is not durable.
            let duration = try sleepDuration(input)
            do { try await clock.sleep(until: clock.now + duration) } catch {
                throw ActivityFailure(.cancelled, "sleep cancelled")
            }
            return ScriptOutcome(output: .null)
        case .fail:
            throw ActivityFailure(
                ErrorType(input["type"]?.stringValue ?? ErrorType.activityError.rawValue),
                input["message"]?.stringValue ?? "failed by call: fail", retryable: input["retryable"]?.boolValue,
                details: input["details"])
        case .set:
            guard let variables = input.objectValue else {
                throw ActivityFailure(.activityError, "set needs `with:` to be an object of context variables", retryable: false)
            }
            return ScriptOutcome(output: input, contextWrites: variables)
        }
    }

    /// `with: {duration: 2s}`: a duration string or a number of seconds.
    static func sleepDuration(_ input: Value) throws(ActivityFailure) -> Duration {
        let value = input["duration"]
        if let seconds = value?.numberValue, seconds >= 0 { return .milliseconds(Int64((seconds * 1000).rounded())) }
        if let text = value?.stringValue, let duration = DurationText.parse(text) { return duration }
        throw ActivityFailure(
            .activityError, "sleep needs `with: {duration: 2s}` (500ms, 30s, 5m, 2h, 1d or PT30S)", retryable: false)
    }
}

extension Builtin {
    /// Whether the built-in returns at once, never fails with `WorkerCrashed` (which the executor
    /// treats as an interruption), and reaches the world only through its completion (its output,
    /// emitted events and context writes are written with it; a `log` line is logged again if a
    /// crash makes it run again): `noop`, `log`, `emit` and `set`. The driver runs these in its own
    /// task and writes their start with their completion. Not `sleep` or `fail`, nor `http`, whose
    /// request reaches a service, so its start is on disk first.
    var returnsAtOnce: Bool {
        switch self {
        case .noop, .log, .emit, .set: true
        case .sleep, .fail, .http: false
        }
    }
}

/// Durations as docs/workflow-format.md writes them: `500ms`, `30s`, `5m`, `2h`, `1d`, or ISO 8601 (`PT30S`, `P1DT2H`).
enum DurationText {
    static func parse(_ text: String) -> Duration? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("P") { return parseISO(text) }
        let units: [(suffix: String, nanos: Double)] = [
            ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("d", 86400e9),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let number = Double(text.dropLast(unit.suffix.count)), number >= 0 else { return nil }
            return .nanoseconds(Int64(number * unit.nanos))
        }
        return nil
    }

    private static func parseISO(_ text: String) -> Duration? {
        var nanos = 0.0
        var number = ""
        var inTime = false
        var sawComponent = false
        for character in text.dropFirst() {
            if character == "T" { inTime = true; continue }
            if character.isNumber || character == "." { number.append(character); continue }
            guard let value = Double(number) else { return nil }
            number = ""
            sawComponent = true
            switch (character, inTime) {
            case ("D", false): nanos += value * 86400e9
            case ("W", false): nanos += value * 7 * 86400e9
            case ("H", true): nanos += value * 3600e9
            case ("M", true): nanos += value * 60e9
            case ("S", true): nanos += value * 1e9
            default: return nil
            }
        }
        return number.isEmpty && sawComponent ? .nanoseconds(Int64(nanos)) : nil
    }
}
