import MoonflowModel
import MoonflowYAML

extension WorkflowReader {
    static let bodyKeys = ["run", "script", "call", "type", "workflow"]
    static let activityKeys = [
        "name", "description", "needs", "after", "run", "script", "call", "type", "workflow", "with", "params", "when",
        "timeout", "total_timeout", "retry", "circuit_breaker", "bulkhead", "fallback", "compensate",
        "compensate_on_failure", "input_schema", "output_schema", "priority", "limits", "assign", "form", "due", "remind",
        "on_timeout", "notify", "isolation",
    ]

    func readActivity(_ node: YAMLNode, scope: Scope, sagaStep: Bool) -> Activity? {
        // `- charge` is short for `- name: charge` (body found by name).
        if node.scalar != nil {
            let key = YAMLNode(.scalar(YAMLScalar("name")), location: node.location)
            return readActivity(YAMLNode(.mapping([YAMLPair(key: key, value: node)]), location: node.location), scope: scope, sagaStep: sagaStep)
        }
        var allowed = Self.activityKeys
        if sagaStep { allowed += ["activity", "compensation"] }
        guard let map = MappingReader(node, context, what: "an activity", allowed: allowed) else { return nil }
        // Saga steps (seed) name the activity with `activity:` (a script name) and undo it with `compensation:`.
        let nameNode = map["name"] ?? (sagaStep ? map["activity"] : nil)
        guard let nameNode else {
            context.error(.missingKey, "an activity needs a 'name'", at: node, hint: "for example: - name: charge_payment")
            return nil
        }
        guard let name = context.identifier(nameNode, "activity name") else { return nil }
        var activity = Activity(name: name, body: .builtin(.noop), location: nameNode.location)
        if let n = map["description"] { activity.description = context.string(n, "description") }

        // In a saga step without `name`, `activity:` is both the name and the script.
        let implicit = sagaStep && !map.has("name") ? map["activity"] : nil
        if let body = readBody(map, owner: name, at: node, implicitScript: implicit, allowsManual: true) {
            activity.body = body
        }
        if map.has("needs"), map.has("after") {
            context.error(.conflictingKeys, "'after' is an alias of 'needs': use one", at: map.keyLocation("after"))
        }
        if let n = map["needs"] ?? map["after"] {
            let entries = context.stringList(n, "needs")
            activity.dependencies = entries.map { Dependency($0.0) }
            dependencyNodes[name] = entries.map(\.1)
        }
        activity.with = readWith(map, owner: "activity '\(name)'")
        if case .builtin(.http) = activity.body { checkHTTPRequest(map, owner: name) }
        if case .builtin(.log) = activity.body { checkLogLevel(map) }
        if let n = map["when"] { activity.when = context.expression(n, "when") }
        if let n = map["timeout"] { activity.timeout = context.duration(n, "timeout") }
        if let n = map["total_timeout"] { activity.totalTimeout = context.duration(n, "total_timeout") }
        activity.retry = map["retry"].map { resolveRetry($0, scope: scope) } ?? nil
        if let n = map["circuit_breaker"] {
            activity.circuitBreaker = resolveNamed(n, "circuit breaker", scope.breakers, inline: { readBreaker($0, name: "\(scope.workflowID)/\(name)") })
        } else {
            activity.circuitBreaker = scope.defaultBreaker
        }
        if let n = map["bulkhead"] {
            activity.bulkhead = resolveNamed(n, "bulkhead", scope.bulkheads, inline: { readBulkhead($0, name: "\(scope.workflowID)/\(name)", scope: scope) })
        } else {
            activity.bulkhead = scope.defaultBulkhead
        }
        if let n = map["fallback"] { activity.fallback = readFallback(n, scope: scope) }
        if let n = map["compensate"] ?? (sagaStep ? map["compensation"] : nil) {
            activity.compensate = readCompensation(n, scope: scope)
        }
        if let n = map["compensate_on_failure"] { activity.compensateOnFailure = context.bool(n, "compensate_on_failure") ?? false }
        if let n = map["input_schema"] { activity.inputSchema = readSchema(n, "input_schema") }
        if let n = map["output_schema"] { activity.outputSchema = readSchema(n, "output_schema") }
        if let n = map["priority"] {
            if case .string(let word) = n.resolvedScalar, !word.allSatisfy(\.isNumber) {
                if let v = context.choice(n, "priority", Priority.levels.keys.sorted()) { activity.priority = Priority.levels[v]! }
            } else {
                activity.priority = context.int(n, "priority", Priority.range) ?? 0
            }
        }
        if let n = map["limits"], let lm = MappingReader(n, context, what: "'limits'", allowed: ["memory", "instructions", "output_size"]) {
            if let m = lm["memory"] { activity.limits.memory = context.size(m, "memory") }
            if let i = lm["instructions"] { activity.limits.instructions = context.int(i, "instructions", 1000...Int(Int32.max) * 100) }
            if let o = lm["output_size"] { activity.limits.outputSize = context.size(o, "output_size") }
        }
        if let n = map["isolation"] { activity.limits.isolation = readIsolation(n) }
        // Manual-task keys belong to `type: manual` only.
        if case .manual = activity.body {} else {
            for key in ["assign", "form", "due", "remind", "on_timeout", "notify"] where map.has(key) {
                context.error(.conflictingKeys, "'\(key)' applies to manual activities only", at: map.keyLocation(key), hint: "add `type: manual` or remove '\(key)'")
            }
        }
        if case .manual(var task) = activity.body {
            readManualTask(map, into: &task, scope: scope)
            activity.body = .manual(task)
        }
        return activity
    }

    /// `call: log`'s `level`, when written as a literal (one computed by an expression is checked
    /// when it runs): a level that would silently log at `info` is refused at load.
    func checkLogLevel(_ map: MappingReader) {
        let pairs = (map["with"] ?? map["params"])?.mapping ?? []
        guard let level = pairs.first(where: { $0.key.scalar?.text == "level" })?.value,
            !(level.scalar?.text.contains("${") ?? false)
        else { return }
        _ = context.choice(level, "level", ScriptLogEntry.levels)
    }

    /// The activity input: `with` (canonical) or `params` (seed).
    func readWith(_ map: MappingReader, owner: String) -> ValueTemplate? {
        if map.has("with"), map.has("params") {
            context.error(.conflictingKeys, "'params' is an alias of 'with' in \(owner): use one", at: map.keyLocation("params"))
        }
        return (map["with"] ?? map["params"]).flatMap { context.valueTemplate($0) }
    }

    /// Exactly one body: `run`, `script`, `call`, `type: manual`, `type: workflow`; with none, the
    /// script named like the owner (or `implicitScript`) when it exists.
    func readBody(_ map: MappingReader, owner: String, at node: YAMLNode, implicitScript: YAMLNode?, allowsManual: Bool) -> ActivityBody? {
        var given = ["run", "script", "call"].filter(map.has)
        if map.has("type") { given.append("type") }
        if given.count > 1 {
            context.error(
                .activityBody, "'\(owner)' has several bodies (\(given.joined(separator: ", "))); give exactly one",
                at: map.keyLocation(given[1]))
            return nil
        }
        if map.has("workflow"), map["type"]?.scalar?.text != "workflow" {
            context.error(.conflictingKeys, "'workflow' names a child workflow and needs `type: workflow`", at: map.keyLocation("workflow"))
        }
        if let n = map["run"] {
            guard let scalar = n.scalar, n.resolvedScalar != .null else {
                context.error(.typeMismatch, "'run' must be Lua code (text), not \(n.kindDescription)", at: n)
                return nil
            }
            // A block scalar's text starts on the line after its indicator.
            let block = scalar.style == .literal || scalar.style == .folded
            let chunk = ScriptChunk(source: scalar.text, name: "\(context.file)#\(owner)", firstLine: n.location.line + (block ? 1 : 0))
            checkChunk(chunk, at: n, block: block)
            return .lua(chunk)
        }
        if let n = map["script"] {
            guard let name = context.string(n, "script") else { return nil }
            return loadScript(name, at: n)
        }
        if let n = map["call"] {
            guard let name = context.choice(n, "call", Builtin.allCases.map(\.rawValue)), let builtin = Builtin(rawValue: name) else {
                return nil
            }
            return .builtin(builtin)
        }
        if let n = map["type"] {
            guard let kind = context.choice(n, "type", allowsManual ? ["manual", "workflow", "script"] : ["workflow", "script"]) else { return nil }
            switch kind {
            case "manual": return .manual(ManualTask())
            case "workflow":
                guard let w = map["workflow"] else {
                    context.error(.missingKey, "`type: workflow` needs 'workflow: <id>' naming the child workflow", at: n)
                    return nil
                }
                guard let id = context.identifier(w, "workflow id", lowercaseOnly: true) else { return nil }
                if id == workflowID {
                    context.error(.cycle, "'\(owner)' runs its own workflow '\(id)' as a child", at: w, hint: "a run would start children forever")
                    return nil
                }
                childReferences.append((id, w))
                return .workflow(id)
            default:
                break  // `type: script` (seed): the script named like the activity.
            }
        }
        if let implicitScript, let name = context.string(implicitScript, "activity") {
            return loadScript(name, at: implicitScript)
        }
        if environment.scriptExists(named: owner) { return loadScript(owner, at: node) }
        context.error(
            .activityBody, "'\(owner)' has no body and there is no scripts/\(owner).lua", at: node,
            hint: "add run:, script:, call: or type: manual — or create scripts/\(owner).lua")
        return nil
    }

    private func loadScript(_ name: String, at node: YAMLNode) -> ActivityBody? {
        switch environment.script(name) {
        case .success(let chunk):
            if let checker = environment.checker, let problem = checker.checkChunk(chunk.source, name: chunk.name) {
                context.error(.luaSyntax, "\(chunk.name):\(problem.line): \(problem.message)", at: node, hint: "fix the script; it is used here")
            }
            return .lua(chunk)
        case .failure(let failure):
            context.error(failure.code, failure.message, at: node, hint: failure.hint)
            return nil
        }
    }

    /// Syntax-checks inline Lua, reporting at the YAML line of the Lua line.
    private func checkChunk(_ chunk: ScriptChunk, at node: YAMLNode, block: Bool) {
        guard let checker = environment.checker, let problem = checker.checkChunk(chunk.source, name: chunk.name) else { return }
        let line = chunk.firstLine + problem.line - 1
        let column = block ? max(1, (sourceIndent(line: line) ?? 0) + 1) : node.location.column
        context.error(.luaSyntax, problem.message, at: SourceLocation(file: context.file, line: line, column: column))
    }

    private func sourceIndent(line: Int) -> Int? {
        var current = 1
        for text in source.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == line { return text.prefix { $0 == " " }.count }
            current += 1
        }
        return nil
    }

    /// `{activity: skip, notify: true}`, `{activity: <script>}`, a body, `{output: value}`, or `skip`.
    func readFallback(_ node: YAMLNode, scope: Scope) -> Fallback? {
        if let text = node.scalar?.text {
            if text == "skip" { return Fallback(.skip) }
            return loadScript(text, at: node).map { Fallback(.body(Handler(body: $0, location: node.location))) }
        }
        let keys = ["activity", "run", "script", "call", "type", "workflow", "with", "params", "retry", "timeout", "compensate", "notify", "output"]
        guard let map = MappingReader(node, context, what: "the fallback", allowed: keys) else { return nil }
        let notify = map["notify"].flatMap { context.bool($0, "notify") } ?? false
        if let o = map["output"] {
            for key in ["activity", "run", "script", "call", "type"] where map.has(key) {
                context.error(.conflictingKeys, "a fallback gives either 'output' or a body, not both ('\(key)')", at: map.keyLocation(key))
            }
            return context.valueTemplate(o).map { Fallback(.output($0), notify: notify) }
        }
        if let a = map["activity"], a.scalar?.text == "skip" { return Fallback(.skip, notify: notify) }
        guard let handler = readHandler(map, node: node, scope: scope, role: "fallback") else { return nil }
        return Fallback(.body(handler), notify: notify)
    }

    /// A compensation: a script name, or a body mapping. It may not nest a compensation or fallback.
    func readCompensation(_ node: YAMLNode, scope: Scope) -> Compensation? {
        if node.scalar != nil {
            guard let name = context.string(node, "compensate") else { return nil }
            return loadScript(name, at: node).map { Compensation(Handler(body: $0, location: node.location)) }
        }
        let keys = ["activity", "run", "script", "call", "type", "workflow", "with", "params", "retry", "timeout", "compensate", "fallback"]
        guard let map = MappingReader(node, context, what: "the compensation", allowed: keys) else { return nil }
        for key in ["compensate", "fallback"] where map.has(key) {
            context.error(
                .nestedHandler, "a compensation cannot have its own '\(key)'", at: map.keyLocation(key),
                hint: "give the compensation a retry policy instead; compensations do not nest")
        }
        return readHandler(map, node: node, scope: scope, role: "compensation").map(Compensation.init)
    }

    func readHandler(_ map: MappingReader, node: YAMLNode, scope: Scope, role: String) -> Handler? {
        let implicit = map["activity"]
        guard let body = readBody(map, owner: role, at: node, implicitScript: implicit, allowsManual: false) else { return nil }
        var handler = Handler(body: body, location: node.location)
        handler.with = readWith(map, owner: "the \(role)")
        if let r = map["retry"] { handler.retry = resolveRetry(r, scope: scope) }
        if let t = map["timeout"] { handler.timeout = context.duration(t, "timeout") }
        if role == "fallback", let c = map["compensate"] { handler.compensate = readCompensation(c, scope: scope) }
        return handler
    }

    /// A retry policy by name (from `policies.retry`) or inline.
    func resolveRetry(_ node: YAMLNode, scope: Scope) -> RetryPolicy? {
        resolveNamed(node, "retry policy", scope.retry, inline: { readRetry($0, name: nil) })
    }

    private func resolveNamed<P>(_ node: YAMLNode, _ what: String, _ named: [String: P], inline: (YAMLNode) -> P?) -> P? {
        guard case .string(let name) = node.resolvedScalar else { return inline(node) }
        if let policy = named[name] { return policy }
        var message = "no \(what) named '\(name)' in 'policies'"
        if let s = Suggest.closest(to: name, in: Array(named.keys)) { message += " — did you mean '\(s)'?" }
        context.error(.unknownReference, message, at: node, hint: named.isEmpty ? "define it under policies, or write the policy inline" : "known: \(named.keys.sorted().joined(separator: ", "))")
        return nil
    }

    private func readManualTask(_ map: MappingReader, into task: inout ManualTask, scope: Scope) {
        if let a = map["assign"] {
            if a.scalar != nil || a.sequence != nil {
                task.users = context.stringList(a, "assign").map(\.0)
            } else if let am = MappingReader(a, context, what: "'assign'", allowed: ["users", "groups"]) {
                task.users = am["users"].map { context.stringList($0, "users").map(\.0) } ?? []
                task.groups = am["groups"].map { context.stringList($0, "groups").map(\.0) } ?? []
            }
        }
        if let f = map["form"] { task.form = readSchema(f, "form") }
        if let d = map["due"] { task.due = context.duration(d, "due") }
        if let r = map["remind"] {
            let items = r.sequence ?? [r]
            task.remind = items.compactMap { context.duration($0, "remind") }
            if let due = task.due {
                for (item, at) in zip(items, task.remind) where at >= due {
                    context.error(.outOfRange, "a reminder at \(at.moonflowText) comes after the task is due (\(due.moonflowText))", at: item)
                }
            }
        }
        if let t = map["on_timeout"], let tm = MappingReader(t, context, what: "'on_timeout'", allowed: ["fallback"]) {
            task.onTimeout = tm["fallback"].flatMap { readFallback($0, scope: scope) }
        }
        if let n = map["notify"] {
            let channels = context.stringList(n, "notify")
            noteChannels(channels)
            task.notify = channels.map(\.0)
        }
    }

    /// `saga: {steps: [{activity, compensation}]}` (seed): a sequential list with compensations.
    func readSaga(_ node: YAMLNode, scope: Scope) -> [(Activity, YAMLNode)] {
        guard let map = MappingReader(node, context, what: "'saga'", allowed: ["steps"]) else { return [] }
        guard let s = map["steps"], let steps = sequence(s, "saga.steps") else {
            context.error(.missingKey, "'saga' needs 'steps'", at: node)
            return []
        }
        return steps.compactMap { step in readActivity(step, scope: scope, sagaStep: true).map { ($0, step) } }
    }

    /// `compensation_activities: {activity: {activity: undo_script, params: {…}}}` (seed).
    func applyCompensationMap(_ node: YAMLNode, to activities: inout [(Activity, YAMLNode)], scope: Scope) {
        guard let pairs = node.mapping else {
            context.error(.typeMismatch, "'compensation_activities' must map activity names to compensations, not \(node.kindDescription)", at: node)
            return
        }
        for pair in pairs {
            guard let name = context.string(pair.key, "activity name") else { continue }
            guard let index = activities.firstIndex(where: { $0.0.name == name }) else {
                reportUnknownActivity(name, at: pair.key, names: activities.map(\.0.name), field: "'compensation_activities'")
                continue
            }
            if activities[index].0.compensate != nil {
                context.error(.conflictingKeys, "'\(name)' already has 'compensate'; give its compensation once", at: pair.key)
                continue
            }
            activities[index].0.compensate = readCompensation(pair.value, scope: scope)
        }
    }
}
