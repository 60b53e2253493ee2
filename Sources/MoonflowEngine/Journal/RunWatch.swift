package import MoonflowModel
import OrderedCollections

/// A value of a run to watch through its journal (`moonflow runs history --watch`, the API
/// history's `?watch=`): `workflow.NAME[.key…]` (a context variable) or `steps.X.output[.key…]`
/// (`steps.X.status` too). Array elements are named by their index (`items.0`).
package struct WatchPath: Sendable, Hashable, CustomStringConvertible {
    package var description: String
    private var root: Root
    private var keys: [String]

    private enum Root: Hashable {
        case context(String)
        case step(String)
    }

    /// Parses a path; `nil` (with why) for one that names neither a context variable nor a step.
    package static func parse(_ text: String) -> Result<WatchPath, WatchPathError> {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, !parts.contains(where: \.isEmpty) else { return .failure(WatchPathError(path: text)) }
        switch parts[0] {
        case "workflow": return .success(WatchPath(description: text, root: .context(parts[1]), keys: Array(parts.dropFirst(2))))
        case "steps" where parts.count >= 3 && ["output", "status"].contains(parts[2]):
            return .success(WatchPath(description: text, root: .step(parts[1]), keys: Array(parts.dropFirst(2))))
        default: return .failure(WatchPathError(path: text))
        }
    }

    /// Its value in `state` (`nil`: absent).
    package func value(in state: RunState) -> Value? {
        var value: Value?
        switch root {
        case .context(let name): value = state.context[name]
        case .step(let name):
            guard let record = state.activities[name], record.status.isTerminal else { return nil }
            value = ["output": record.output ?? .null, "status": .string(record.status.rawValue)]
        }
        for key in keys {
            switch value {
            case .object(let members): value = members[key]
            case .array(let items): value = Int(key).flatMap { items.indices.contains($0) ? items[$0] : nil }
            default: return nil
            }
        }
        return value
    }

    /// Every change of the watched values through a journal, in order: the entry that made it, the
    /// value before and after (`null` when absent).
    package static func changes(of paths: [WatchPath], in journal: [RunEvent]) -> [Value] {
        guard var state = journal.first.flatMap(RunState.init(queuedBy:)) else { return [] }
        var current = paths.map { $0.value(in: state) }
        var changes: [Value] = []
        for (index, event) in journal.enumerated() {
            if index > 0 { state.apply(event) }
            for (position, path) in paths.enumerated() {
                let now = path.value(in: state)
                guard index == 0 ? now != nil : now != current[position] else { continue }
                let change: OrderedDictionary<String, Value> = [
                    "path": .string(path.description), "seq": .int(Int64(index + 1)), "at": .string(event.at.iso8601),
                    "type": .string(event.type.rawValue), "activity": event.activity.map(Value.string) ?? .null,
                    "attempt": event.attempt.map { .int(Int64($0)) } ?? .null, "before": index == 0 ? .null : current[position] ?? .null,
                    "after": now ?? .null,
                ]
                changes.append(.object(change))
                current[position] = now
            }
        }
        return changes
    }
}

/// A watch path that names neither `workflow.NAME…` nor `steps.X.output…`.
package struct WatchPathError: Error, Sendable, Hashable, CustomStringConvertible {
    package var path: String
    package var description: String {
        "cannot watch '\(SafeText.display(path, limit: 200))': expected workflow.NAME[.key…] or steps.ACTIVITY.output[.key…]"
    }
}
