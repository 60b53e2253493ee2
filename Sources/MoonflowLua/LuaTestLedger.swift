import Foundation
import MoonflowModel

/// The file behind the test-only built-in `test.ledger(tag)`: crash tests read it to learn which
/// activity attempts ran up to which point, even when the process was killed right after.
///
/// Registered only when `MOONFLOW_TEST_LEDGER` names a file when the runner is built. Each call
/// appends one JSON line `{"run":…,"activity":…,"attempt":…,"tag":…,"unix_ns":…}` with a single
/// `write` on a descriptor opened with `O_APPEND` (so lines of concurrent writers never
/// interleave) and `fsync`s it before the script continues.
///
/// In a sandbox helper (which may open no file) the call is forwarded to the engine, which appends
/// the line with its own ledger before the script continues.
package struct LuaTestLedger: Sendable {
    /// The environment variable that turns the seam on.
    package static let environmentVariable = "MOONFLOW_TEST_LEDGER"

    /// The file, or `nil` in a helper, which forwards.
    package let path: String?
    private let forward: (@Sendable (_ tag: String, _ activity: Value) -> String?)?

    package init(path: String) {
        self.path = path
        self.forward = nil
    }

    /// A ledger whose calls `forward` handles (a sandbox helper's: to the engine).
    init(forward: @escaping @Sendable (_ tag: String, _ activity: Value) -> String?) {
        self.path = nil
        self.forward = forward
    }

    /// The ledger the environment asks for, if any.
    package static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> LuaTestLedger? {
        guard let path = environment[environmentVariable], !path.isEmpty else { return nil }
        return LuaTestLedger(path: path)
    }

    /// Appends the line of one `test.ledger(tag)` call made by the activity `activity`
    /// (`{name, attempt, run: {id}}`); returns an error message or `nil`.
    func append(tag: String, activity: Value) -> String? {
        if let forward { return forward(tag, activity) }
        guard let path else { return "no ledger file" }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let line: Value = [
            "run": activity["run"]?["id"] ?? .null,
            "activity": activity["name"] ?? .null,
            "attempt": activity["attempt"] ?? .null,
            "tag": .string(tag),
            "unix_ns": .int(Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)),
        ]
        let bytes = Array((line.jsonString() + "\n").utf8)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return "cannot open \(path): \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { return "cannot append to \(path): \(String(cString: strerror(errno)))" }
        guard fsync(fd) == 0 else { return "cannot sync \(path): \(String(cString: strerror(errno)))" }
        return nil
    }
}
