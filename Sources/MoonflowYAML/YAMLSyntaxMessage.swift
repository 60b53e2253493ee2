import MoonflowModel

/// A libyaml scanner or parser error made readable: libyaml's problem and context text, its
/// problem mark, and a hint for the two mistakes people make most (tabs and flow-style templates).
struct YAMLSyntaxMessage {
    var problem: String
    var context: (text: String, location: SourceLocation)?
    var location: SourceLocation
    var source: YAMLSource

    var diagnostic: Diagnostic {
        var message = problem
        if let context {
            if context.location == location {
                message += " (\(context.text))"
            } else {
                message += " (\(context.text) that starts at line \(context.location.line), column \(context.location.column))"
            }
        }
        return Diagnostic(.yamlSyntax, message, at: location, hint: tabHint ?? templateHint)
    }

    /// libyaml stops at a tab where indentation is expected.
    private var tabHint: String? {
        guard source.character(at: location) == "\t" || problem.contains("tab") else { return nil }
        return "YAML indents with spaces only: replace the tab characters at the start of this line with spaces"
    }

    /// `{id: ${ x }}`: inside a flow collection a plain scalar ends at `{`, so an unquoted
    /// template breaks the collection (docs/workflow-format.md, "Templates in flow style"). The hint quotes the
    /// template libyaml stopped at: the last `${` before the problem on its line, else one on a
    /// line of the collection before it.
    private var templateHint: String? {
        guard context?.text.contains("flow") == true || problem.contains("flow") else { return nil }
        let firstLine = context?.location.line ?? location.line
        for number in stride(from: location.line, through: min(firstLine, location.line), by: -1) {
            guard let line = source.lineText(number) else { continue }
            let scalars = Array(line.unicodeScalars)
            // On the problem line only templates that start before the problem count.
            let limit = number == location.line ? min(location.column, scalars.count) : scalars.count
            guard let start = (0..<max(0, limit - 1)).last(where: { scalars[$0] == "$" && scalars[$0 + 1] == "{" }) else { continue }
            let end = scalars[start...].firstIndex(of: "}") ?? scalars.count - 1
            var template = String.UnicodeScalarView()
            template.append(contentsOf: scalars[start...end])
            return "inside `{…}` or `[…]` a template must be quoted: quote the template (`\"\(String(template))\"`) or use block style"
        }
        return nil
    }
}
