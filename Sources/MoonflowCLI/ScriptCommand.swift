import ArgumentParser
import Foundation
import MoonflowLua
import MoonflowModel
import OrderedCollections

/// `moonflow script NAME|PATH`: runs one code action in the sandbox, as the engine would, and prints
/// `{"output", "context", "logs"}` (plus `"events"` when any were emitted) or the typed error.
struct ScriptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "script",
        abstract: "Run one code action in the Lua sandbox and print its output, context and logs as JSON.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A script name (scripts/NAME.lua in --project) or a path to a .lua file.")
    var script: String

    @Option(help: "The activity input, as JSON.")
    var input: String = "{}"

    @Option(help: "The workflow context variables, as a JSON object.")
    var context: String = "{}"

    @Option(help: "Limits, e.g. memory=16MB,instructions=1000000,timeout=300ms,output=1MB,source=256KB,depth=64.")
    var limits: String?

    @Option(help: "Where the script runs: in_process (a thread of this process) or process (a sandbox helper).")
    var isolation: String = ScriptIsolation.inProcess.rawValue

    func run() async throws {
        let input = try CLIScriptSupport.json(self.input, flag: "--input")
        guard case .object(let context) = try CLIScriptSupport.json(self.context, flag: "--context") else {
            throw CLIScriptSupport.usage("--context: expected a JSON object")
        }
        var limits = try limits.map { try CLIScriptSupport.limits($0) } ?? .defaults
        guard let isolation = ScriptIsolation(rawValue: isolation) else {
            throw CLIScriptSupport.usage("--isolation: expected in_process or process, got '\(isolation)'")
        }
        limits.isolation = isolation
        let (url, name) = resolve()
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CLIScriptSupport.usage("script: cannot read \(url.path)")
        }
        // Lua's signature of a precompiled chunk: the sandbox loads source text only.
        if data.starts(with: [0x1B, 0x4C, 0x75, 0x61]) {
            throw CLIScriptSupport.usage("script: \(url.path) is a precompiled (binary) Lua chunk; binary chunks are refused, give the source")
        }
        guard let source = String(validating: data, as: UTF8.self) else {
            throw CLIScriptSupport.usage("script: \(url.path) is not UTF-8 text")
        }
        let invocation = ScriptInvocation(
            chunk: ScriptChunk(source: source, name: name), input: input, context: context,
            activity: ["name": .string(name), "attempt": 1, "idempotency_key": "cli", "run": ["id": "cli", "workflow": "cli", "version": 1]],
            limits: limits)
        do {
            let outcome = try await IsolatingRunner(inProcess: LuaRunner(threads: 1), helpers: .init(helpers: 1)).run(invocation)
            var merged = context
            for (key, value) in outcome.contextWrites {
                if value.isNull { merged.removeValue(forKey: key) } else { merged[key] = value }
            }
            var result: OrderedDictionary<String, Value> = [
                "output": outcome.output,
                "context": .object(merged),
                "logs": .array(outcome.logs.map { ["level": .string($0.level), "message": .string($0.message), "fields": $0.fields] }),
            ]
            if !outcome.events.isEmpty {
                result["events"] = .array(outcome.events.map { ["type": .string($0.type), "payload": $0.payload] })
            }
            print(Value.object(result).jsonString())
        } catch {
            print(CLIScriptSupport.errorJSON(error))
            throw MoonflowExit.failure
        }
    }

    /// NAME means `scripts/NAME.lua` in the project; anything with a slash or `.lua` is a path.
    private func resolve() -> (URL, String) {
        if script.contains("/") || script.hasSuffix(".lua") {
            return (URL(fileURLWithPath: script), script)
        }
        let relative = "scripts/\(script).lua"
        return (global.projectURL.appendingPathComponent(relative), relative)
    }
}

/// Parsing shared by `script` and `eval`: JSON flags, limits, the error document.
enum CLIScriptSupport {
    /// A usage error: the message on standard error, exit code 2.
    static func usage(_ message: String) -> ExitCode {
        printError("error: \(message)")
        return MoonflowExit.usage
    }

    static func json(_ text: String, flag: String) throws -> Value {
        do {
            return try Value(json: text)
        } catch {
            throw usage("\(flag): invalid JSON: \(error.description)")
        }
    }

    /// `{"error": {"type", "message", "script", "line"}}`.
    static func errorJSON(_ failure: ActivityFailure) -> String {
        var error: OrderedDictionary<String, Value> = [
            "type": .string(failure.type.rawValue), "message": .string(failure.message),
            "script": failure.script.map(Value.string) ?? .null, "line": failure.line.map { .int(Int64($0)) } ?? .null,
        ]
        if let retryable = failure.retryable { error["retryable"] = .bool(retryable) }
        if let details = failure.details { error["details"] = details }
        return Value.object(["error": .object(error)]).jsonString()
    }

    /// `memory=16MB,instructions=1000000,timeout=300ms,output=1MB,source=256KB,depth=64`.
    static func limits(_ text: String) throws -> ScriptLimits {
        var limits = ScriptLimits.defaults
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw usage("--limits: expected key=value, got '\(item)'") }
            let (key, value) = (parts[0], parts[1])
            switch key {
            case "memory": limits.memory = try size(value, key)
            case "output": limits.outputSize = try size(value, key)
            case "source": limits.sourceSize = try size(value, key)
            case "instructions", "depth":
                guard let n = Int(value.replacingOccurrences(of: "_", with: "")), n > 0 else {
                    throw usage("--limits: \(key) must be a positive integer, got '\(value)'")
                }
                if key == "depth" { limits.valueDepth = n } else { limits.instructions = n }
            case "timeout": limits.timeout = try duration(value)
            default: throw usage("--limits: unknown limit '\(key)' (memory, instructions, timeout, output, source, depth)")
            }
        }
        return limits
    }

    private static func size(_ text: String, _ key: String) throws -> Int {
        let units: [(String, Int)] = [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)]
        for (suffix, scale) in units where text.uppercased().hasSuffix(suffix) {
            if let n = Int(text.dropLast(suffix.count)), n > 0 { return n * scale }
        }
        if let n = Int(text), n > 0 { return n }
        throw usage("--limits: \(key) must be a size such as 16MB, got '\(text)'")
    }

    private static func duration(_ text: String) throws -> Duration {
        let units: [(String, (Int) -> Duration)] = [("ms", { .milliseconds($0) }), ("s", { .seconds($0) }), ("m", { .seconds($0 * 60) })]
        for (suffix, make) in units where text.hasSuffix(suffix) {
            if let n = Int(text.dropLast(suffix.count)), n > 0 { return make(n) }
        }
        throw usage("--limits: timeout must be a duration such as 300ms or 2s, got '\(text)'")
    }
}
