import MoonflowLoader
import MoonflowModel
import OrderedCollections

/// The `graph` of `GET /v1/workflows/{id}`: what the console draws (docs/console.md) — each
/// activity with its body's kind, its dependencies and their conditions, its own `when`, and the
/// compensation and fallback bodies attached to it; then the workflow-level compensations.
extension Workflow {
    var graphValue: Value {
        [
            "activities": .array(activities.map(\.graphValue)),
            "compensations": .array(compensation.activities.map { ["name": .string($0.name), "kind": .string(WorkflowGraph.kind($0.handler.body))] }),
        ]
    }
}

extension Activity {
    var graphValue: Value {
        var node: OrderedDictionary<String, Value> = [
            "name": .string(name), "kind": .string(WorkflowGraph.kind(body)),
            "needs": .array(dependencies.map { ["activity": .string($0.activity), "when": $0.when.map { .string($0.source) } ?? .null] }),
            "when": when.map { .string($0.source) } ?? .null,
            "compensation": compensate.map { ["kind": .string(WorkflowGraph.kind($0.handler.body))] } ?? .null,
            "fallback": fallback.map(\.graphValue) ?? .null,
        ]
        if case .manual = body { node["manual"] = true }
        return .object(node)
    }
}

extension Fallback {
    /// `{kind}`: `skip`, `output`, or the kind of the body it runs.
    var graphValue: Value {
        switch action {
        case .skip: ["kind": "skip"]
        case .output: ["kind": "output"]
        case .body(let handler): ["kind": .string(WorkflowGraph.kind(handler.body))]
        }
    }
}
