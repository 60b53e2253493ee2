internal import CLuaSupport
import Crypto
import Foundation
package import MoonflowModel
import Synchronization

/// `ScriptChecking` for the loader: compiles Lua (text only, with the parser's memory bounded and
/// its time bounded by the compile budget, see docs/sandbox.md) without running it, and answers
/// the Lua line and message of the first syntax error. Results are cached process-wide by the
/// SHA-256 of the source, so validations and reloads of an unchanged project do not compile again.
package struct LuaSyntaxChecker: ScriptChecking {
    /// Sources larger than this are refused before parsing.
    package var sourceLimit: Int

    package init(sourceLimit: Int = ScriptLimits.defaults.sourceSize) {
        self.sourceLimit = sourceLimit
    }

    package func checkChunk(_ source: String, name: String) -> ScriptSyntaxError? {
        check(source, expression: false)
    }

    package func checkExpression(_ source: String) -> ScriptSyntaxError? {
        check(source, expression: true)
    }

    private func check(_ source: String, expression: Bool) -> ScriptSyntaxError? {
        guard source.utf8.count <= sourceLimit else {
            return ScriptSyntaxError(line: 1, message: "source of \(source.utf8.count) bytes exceeds the limit of \(sourceLimit) bytes")
        }
        var text = source
        let key = text.withUTF8 { SyntaxCheckCache.Key(digest: Array(SHA256.hash(data: UnsafeRawBufferPointer($0))), expression: expression) }
        if let cached = SyntaxCheckCache.shared.result(for: key) { return cached.error }
        var message = [CChar](repeating: 0, count: 512)
        let line = text.withUTF8 { utf8 in
            message.withUnsafeMutableBufferPointer { mf_check_syntax(utf8.baseAddress, utf8.count, expression ? 1 : 0, $0.baseAddress, $0.count) }
        }
        var error: ScriptSyntaxError?
        if line != 0 {
            let rendered = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            // An expression is compiled as `return (source\n)`: an error found at the closing line belongs to the last line.
            let lastLine = source.utf8.reduce(1) { $1 == 10 ? $0 + 1 : $0 }
            error = ScriptSyntaxError(line: min(max(1, Int(line)), expression ? lastLine : .max), message: rendered)
        }
        SyntaxCheckCache.shared.store(.init(error: error), for: key)
        return error
    }
}

/// Results of syntax checks by content: at most `capacity` entries, dropped all at once when full
/// (a project holds far fewer sources; a reload loop over changing sources cannot grow it).
final class SyntaxCheckCache: Sendable {
    struct Key: Hashable, Sendable {
        /// SHA-256 of the source.
        var digest: [UInt8]
        var expression: Bool
    }
    struct Entry: Sendable {
        var error: ScriptSyntaxError?
    }

    static let shared = SyntaxCheckCache()
    static let capacity = 4096
    private let entries = Mutex<[Key: Entry]>([:])

    func result(for key: Key) -> Entry? { entries.withLock { $0[key] } }

    func store(_ entry: Entry, for key: Key) {
        entries.withLock {
            if $0.count >= Self.capacity { $0.removeAll(keepingCapacity: true) }
            $0[key] = entry
        }
    }
}
