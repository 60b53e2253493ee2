package import MoonflowModel

/// Renders a workflow's activity graph for `moonflow graph` (the web console draws `graph` of `GET /v1/workflows/{id}` with its kinds).
package enum WorkflowGraph {
    /// Mermaid flowchart: one node per activity labelled with its body kind, dashed edges for conditions.
    package static func mermaid(_ workflow: Workflow) -> String {
        var lines = ["flowchart TD"]
        for activity in workflow.activities {
            let label = "\(activity.name)<br/><i>\(kind(activity.body))</i>"
            let shape = if case .manual = activity.body { "[/\"\(label)\"/]" } else { "[\"\(label)\"]" }
            lines.append("    \(id(activity.name))\(shape)")
        }
        for activity in workflow.activities {
            for dependency in activity.dependencies {
                if let when = dependency.when {
                    lines.append("    \(id(dependency.activity)) -.->|\"\(escapeMermaid(when.source))\"| \(id(activity.name))")
                } else {
                    lines.append("    \(id(dependency.activity)) --> \(id(activity.name))")
                }
            }
            if let compensation = activity.compensate {
                let undo = id(activity.name) + "_undo"
                lines.append("    \(undo)([\"undo: \(kind(compensation.handler.body))\"])")
                lines.append("    \(id(activity.name)) -. compensate .-> \(undo)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Graphviz DOT.
    package static func dot(_ workflow: Workflow) -> String {
        var lines = ["digraph \(quote(workflow.id)) {", "    rankdir=TB;", "    node [shape=box, style=rounded];"]
        for activity in workflow.activities {
            let shape = if case .manual = activity.body { ", shape=parallelogram" } else { "" }
            lines.append("    \(quote(activity.name)) [label=\(quote("\(activity.name)\n\(kind(activity.body))"))\(shape)];")
        }
        for activity in workflow.activities {
            for dependency in activity.dependencies {
                let attributes = dependency.when.map { " [style=dashed, label=\(quote($0.source))]" } ?? ""
                lines.append("    \(quote(dependency.activity)) -> \(quote(activity.name))\(attributes);")
            }
            if let compensation = activity.compensate {
                let undo = "undo " + activity.name
                lines.append("    \(quote(undo)) [label=\(quote("undo: \(kind(compensation.handler.body))")), shape=note];")
                lines.append("    \(quote(activity.name)) -> \(quote(undo)) [style=dotted, label=\"compensate\"];")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    package static func kind(_ body: ActivityBody) -> String {
        switch body {
        case .lua(let chunk): chunk.name.contains("#") ? "lua" : chunk.name
        case .builtin(let builtin): "call: \(builtin)"
        case .manual: "manual task"
        case .workflow(let id): "workflow: \(id)"
        }
    }

    private static func id(_ name: String) -> String {
        "a_" + String(name.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    private static func escapeMermaid(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "#quot;").replacingOccurrences(of: "|", with: "#124;")
    }

    private static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
