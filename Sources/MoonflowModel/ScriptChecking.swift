/// A syntax problem in a Lua chunk or expression, positioned inside that chunk (1-based line).
package struct ScriptSyntaxError: Error, Sendable, Hashable {
    package var line: Int
    package var message: String
    package init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}

/// The seam through which the loader asks the Lua layer whether code compiles, so a syntax error in
/// inline Lua or in a `${ }` expression is a load error at the YAML line of the Lua line. The
/// loader never imports Lua; the composition root passes an implementation.
package protocol ScriptChecking: Sendable {
    /// Checks a whole chunk (inline `run:` or a script file). `name` is used in messages.
    func checkChunk(_ source: String, name: String) -> ScriptSyntaxError?
    /// Checks one expression (the text inside `${ }`).
    func checkExpression(_ source: String) -> ScriptSyntaxError?
}
