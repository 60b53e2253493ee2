import ArgumentParser
import Foundation
import MoonflowLua
import MoonflowModel

/// `moonflow eval 'EXPR'`: evaluates one `${ }` expression read-only, as workflows do, and prints
/// its value as JSON.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate a Lua expression (the inside of ${ }) and print its value as JSON.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The expression, e.g. 'input.total * 2' (or '${ input.total * 2 }' as written in a workflow).")
    var text: String

    /// The Lua source: a whole `${ … }` as copied from a workflow is unwrapped.
    var expression: String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("${"), trimmed.hasSuffix("}") else { return text }
        let inner = trimmed.dropFirst(2).dropLast()
        // `${ a } .. ${ b }` is two templates, not one: leave it for the syntax check to refuse.
        guard !inner.contains("${") else { return text }
        return inner.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Option(help: "The run input visible as `input`, as JSON.")
    var input: String = "{}"

    @Option(help: "The context variables visible as `workflow`, as a JSON object.")
    var context: String = "{}"

    func run() async throws {
        let input = try CLIScriptSupport.json(self.input, flag: "--input")
        let context = try CLIScriptSupport.json(self.context, flag: "--context")
        guard context.objectValue != nil else { throw CLIScriptSupport.usage("--context: expected a JSON object") }
        if let problem = LuaSyntaxChecker().checkExpression(expression) {
            print(CLIScriptSupport.errorJSON(ActivityFailure(.activityError, "syntax error: \(problem.message)", script: "expression", line: problem.line)))
            throw MoonflowExit.failure
        }
        let template = ValueTemplate.template(Template(parts: [.expression(Expression(expression))]))
        do {
            let value = try await LuaRunner(threads: 1).evaluate(template, scope: ["input": input, "workflow": context])
            print(value.jsonString())
        } catch {
            print(CLIScriptSupport.errorJSON(error))
            throw MoonflowExit.failure
        }
    }
}
