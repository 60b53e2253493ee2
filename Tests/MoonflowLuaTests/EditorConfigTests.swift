import Foundation
import MoonflowLua
import Testing

/// The example project's editor configuration (`.luarc.json` for lua-language-server, `.luacheckrc`
/// for luacheck, at the repository root, which is the example project's root) names the sandbox's
/// globals as `scripts/moonflow.d.lua` declares them, and luacheck finds nothing in `scripts/`.
@Suite struct EditorConfigTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The top-level names `scripts/moonflow.d.lua` declares before its TEST-ONLY section.
    static func declaredGlobals() throws -> Set<String> {
        var names: Set<String> = []
        for line in try text("scripts/moonflow.d.lua").split(separator: "\n") {
            if line.hasPrefix("-- TEST-ONLY.") { break }
            let words = line.split(separator: " ")
            if words.first == "function", let function = words.dropFirst().first?.split(separator: "(").first {
                names.insert(String(function.split(separator: ".")[0]))
            } else if words.count >= 2, words[1] == "=", !line.hasPrefix(" "), !line.hasPrefix("-") {
                names.insert(String(words[0]))
            }
        }
        return names
    }

    /// The globals `.luacheckrc` allows: quoted names and `name = {…}` entries one level inside `read_globals`.
    static func luacheckGlobals() throws -> Set<String> {
        var names: Set<String> = []
        for line in try text(".luacheckrc").split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("\t\t"), !line.hasPrefix("\t\t\t"), !line.hasPrefix("\t\t--") else { continue }
            let body = line.dropFirst(2)
            if let brace = body.range(of: " = {") {
                names.insert(String(body[..<brace.lowerBound]))
            } else {
                for part in body.split(separator: ",") {
                    let name = part.trimmingCharacters(in: .whitespaces)
                    if name.hasPrefix("\""), name.hasSuffix("\""), name.count > 2 { names.insert(String(name.dropFirst().dropLast())) }
                }
            }
        }
        return names
    }

    @Test func luacheckKnowsExactlyTheSandboxGlobals() throws {
        let declared = try Self.declaredGlobals()
        #expect(declared.contains("workflow") && declared.contains("json") && declared.contains("fail"))
        let sandbox = Set(LuaBuiltins.globals).union(declared)
        let configured = try Self.luacheckGlobals()
        #expect(sandbox.subtracting(configured).isEmpty, "missing from .luacheckrc: \(sandbox.subtracting(configured).sorted())")
        #expect(configured.subtracting(sandbox).isEmpty, "not in the sandbox: \(configured.subtracting(sandbox).sorted())")
        #expect(!configured.contains("test"), "test.ledger exists only in crash tests")
    }

    @Test func luaLanguageServerKnowsTheDeclaredGlobals() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent(".luarc.json"))
        let settings = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(settings["runtime.version"] as? String == "Lua 5.4")
        #expect(settings["workspace.library"] as? [String] == ["scripts/moonflow.d.lua"])
        let globals = Set(settings["diagnostics.globals"] as? [String] ?? [])
        #expect(globals == (try Self.declaredGlobals()), "diagnostics.globals differs from scripts/moonflow.d.lua")
        let builtin = settings["runtime.builtin"] as? [String: String] ?? [:]
        for library in ["io", "debug", "package", "coroutine"] { #expect(builtin[library] == "disable", "\(library) is not in the sandbox") }
    }

    static let luacheck: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .map { "\($0)/luacheck" }.first { FileManager.default.isExecutableFile(atPath: $0) }

    static func runLuacheck(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: luacheck!)
        process.arguments = ["--no-color"] + arguments
        process.currentDirectoryURL = root
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test(.enabled(if: luacheck != nil, "luacheck is not on PATH (apt-get install lua-check; make test installs it): skipped"))
    func luacheckFindsNoWarningInTheExampleScripts() throws {
        let (status, output) = try Self.runLuacheck(["scripts/"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("Total: 0 warnings / 0 errors"), "\(output)")
    }

    @Test(.enabled(if: luacheck != nil, "luacheck is not on PATH (apt-get install lua-check; make test installs it): skipped"))
    func luacheckReportsWhatTheSandboxDoesNotHave() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-luacheck-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("escape.lua")
        try "local f = io.open('x')\nos.execute('ls')\ninput.y = 1\nworkflow.seen = true\nreturn {f, json.encode({})}\n"
            .write(to: script, atomically: true, encoding: .utf8)
        let (status, output) = try Self.runLuacheck(["--config", ".luacheckrc", script.path])
        #expect(status != 0)
        #expect(output.contains("Total: 3 warnings"), "\(output)")
        #expect(output.contains("'io'") && output.contains("'execute'") && output.contains("'y'"), "\(output)")
    }
}
