internal import CLuaSupport
import MoonflowModel

/// `ScriptChecking` for the loader: compiles Lua (text only, with the parser's memory and time
/// bounded) without running it, and answers the Lua line and message of the first syntax error.
public struct LuaSyntaxChecker: ScriptChecking {
    /// Sources larger than this are refused before parsing.
    public var sourceLimit: Int

    public init(sourceLimit: Int = ScriptLimits.defaults.sourceSize) {
        self.sourceLimit = sourceLimit
    }

    public func checkChunk(_ source: String, name: String) -> ScriptSyntaxError? {
        check(source, expression: false)
    }

    public func checkExpression(_ source: String) -> ScriptSyntaxError? {
        check(source, expression: true)
    }

    private func check(_ source: String, expression: Bool) -> ScriptSyntaxError? {
        guard source.utf8.count <= sourceLimit else {
            return ScriptSyntaxError(line: 1, message: "source of \(source.utf8.count) bytes exceeds the limit of \(sourceLimit) bytes")
        }
        var text = source
        var message = [CChar](repeating: 0, count: 512)
        let line = text.withUTF8 { utf8 in
            message.withUnsafeMutableBufferPointer { mf_check_syntax(utf8.baseAddress, utf8.count, expression ? 1 : 0, $0.baseAddress, $0.count) }
        }
        guard line != 0 else { return nil }
        let rendered = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // An expression is compiled as `return (source\n)`: an error found at the closing line belongs to the last line.
        let lastLine = source.utf8.reduce(1) { $1 == 10 ? $0 + 1 : $0 }
        return ScriptSyntaxError(line: min(max(1, Int(line)), expression ? lastLine : .max), message: rendered)
    }
}
