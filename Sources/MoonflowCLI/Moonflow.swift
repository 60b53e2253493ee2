import ArgumentParser

@main
struct Moonflow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moonflow",
        abstract: "Workflows in YAML, code actions in Lua, every activity run reliably and visibly.",
        subcommands: [ScriptCommand.self, EvalCommand.self, BenchCommand.self]
    )
}
