import MoonflowModel
import MoonflowYAML

/// Checks across a whole workflow once it is read: unique names, references between activities,
/// cycles, and that every expression compiles.
extension WorkflowReader {
    func check(_ workflow: Workflow) {
        var seen: [String: SourceLocation] = [:]
        for activity in workflow.activities {
            if let first = seen[activity.name] {
                context.error(.duplicateName, "two activities are named '\(activity.name)' (the first is on line \(first.line))", at: activity.location, hint: "activity names must be unique in a workflow")
            } else {
                seen[activity.name] = activity.location
            }
        }
        let names = workflow.activities.map(\.name)
        for activity in workflow.activities {
            let nodes = dependencyNodes[activity.name] ?? []
            for (index, dependency) in activity.dependencies.enumerated() where !seen.keys.contains(dependency.activity) {
                let node = index < nodes.count ? nodes[index] : nil
                var message = "'\(activity.name)' needs '\(dependency.activity)', which is not an activity of this workflow"
                if let s = Suggest.closest(to: dependency.activity, in: names) { message += " — did you mean '\(s)'?" }
                context.error(.unknownReference, message, at: node?.location ?? activity.location)
            }
        }
        if let cycle = findCycle(workflow) {
            let first = workflow.activity(named: cycle[0])!
            context.error(.cycle, "dependency cycle: \(cycle.map { "'\($0)'" }.joined(separator: " needs "))", at: first.location, hint: "remove one of these dependencies")
        }
        if let checker = environment.checker {
            for expression in expressions(of: workflow) {
                if let problem = checker.checkExpression(expression.source) {
                    let location = SourceLocation(file: expression.location.file, line: expression.location.line + problem.line - 1, column: expression.location.column)
                    context.error(.luaSyntax, "in ${ \(expression.source) }: \(problem.message)", at: location)
                }
            }
        }
    }

    /// A dependency cycle as a list of names that starts and ends with the same activity.
    func findCycle(_ workflow: Workflow) -> [String]? {
        let byName = Dictionary(workflow.activities.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        var stack: [String] = []
        // Iterative depth-first search: workflows can be long, recursion depth must not follow them.
        for start in workflow.activities.map(\.name) where marks[start] == nil {
            var work: [(String, Int)] = [(start, 0)]
            marks[start] = .visiting
            stack.append(start)
            while let (name, index) = work.last {
                let deps = byName[name]?.dependencies.map(\.activity).filter { byName[$0] != nil } ?? []
                if index < deps.count {
                    work[work.count - 1].1 += 1
                    let next = deps[index]
                    switch marks[next] {
                    case .visiting:
                        // Each name on the stack needs the one after it.
                        let from = stack.lastIndex(of: next)!
                        return Array(stack[from...]) + [next]
                    case .done: continue
                    case nil:
                        marks[next] = .visiting
                        stack.append(next)
                        work.append((next, 0))
                    }
                } else {
                    marks[name] = .done
                    stack.removeLast()
                    work.removeLast()
                }
            }
        }
        return nil
    }

    private func expressions(of workflow: Workflow) -> [Expression] {
        var out: [Expression] = []
        for trigger in workflow.triggers {
            out += trigger.when.map { [$0] } ?? []
            out += trigger.input?.expressions ?? []
            out += trigger.dedupe?.expressions ?? []
        }
        out += workflow.output?.expressions ?? []
        func handler(_ h: Handler) {
            out += h.with?.expressions ?? []
            if let c = h.compensate { handler(c.handler) }
        }
        func fallback(_ f: Fallback?) {
            switch f?.action {
            case .body(let h): handler(h)
            case .output(let t): out += t.expressions
            case .skip, nil: break
            }
        }
        fallback(workflow.errorHandling.fallback)
        for activity in workflow.activities {
            out += activity.with?.expressions ?? []
            out += activity.when.map { [$0] } ?? []
            out += activity.dependencies.compactMap(\.when)
            fallback(activity.fallback)
            fallback(activity.bulkhead?.fallback)
            if let c = activity.compensate { handler(c.handler) }
            if case .manual(let task) = activity.body { fallback(task.onTimeout) }
        }
        return out
    }
}
