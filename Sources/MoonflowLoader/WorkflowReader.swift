import MoonflowModel
import MoonflowYAML
import OrderedCollections

/// Reads one workflow file's node tree into the canonical `Workflow` (docs/workflow-format.md), reporting every
/// problem into the file's context. Cross-references are checked by `WorkflowChecks` afterwards.
final class WorkflowReader {
    let context: FileContext
    let environment: any LoadEnvironment
    /// The text of the file, to place Lua errors inside block scalars.
    let source: String
    /// Where each activity's `needs` entries were written, for reference errors.
    var dependencyNodes: [String: [YAMLNode]] = [:]
    /// Child workflows named by `type: workflow`, checked against the project.
    var childReferences: [(String, YAMLNode)] = []
    /// Connections and notification channels named, checked against moonflow.yaml's connections.
    var connectionReferences: [ConnectionReference] = []
    /// The id read from the file, to catch a workflow that runs itself.
    var workflowID = ""

    init(context: FileContext, environment: any LoadEnvironment, source: String) {
        self.context = context
        self.environment = environment
        self.source = source
    }

    static let rootKeys = [
        "workflow", "version", "description", "trigger", "triggers", "input", "context", "output", "timeout",
        "policies", "error_handling", "concurrency", "compensation", "activities", "edges", "compensation_activities",
        "saga", "execution", "isolation",
    ]
    /// Keys the seed's `execution:` wrapper may hold (the same meaning as at the root).
    static let executionKeys = ["workflow", "trigger", "triggers", "activities", "compensation", "saga", "edges", "compensation_activities", "context", "input", "output", "timeout", "isolation"]

    /// Policies and defaults visible while reading activities.
    struct Scope {
        var workflowID: String
        var retry: [String: RetryPolicy] = [:]
        var breakers: [String: CircuitBreakerPolicy] = [:]
        var bulkheads: [String: BulkheadPolicy] = [:]
        var defaultBreaker: CircuitBreakerPolicy?
        var defaultBulkhead: BulkheadPolicy?
    }

    func read(_ root: YAMLNode) -> Workflow? {
        guard let map = MappingReader(root, context, what: "the workflow", allowed: Self.rootKeys) else { return nil }
        // The seed's `execution:` wrapper holds root keys; it is the same workflow as those keys at the root.
        var lookup: [String: YAMLNode] = [:]
        for key in map.keys { lookup[key] = map[key] }
        if let execution = map["execution"],
            let inner = MappingReader(execution, context, what: "'execution'", allowed: Self.executionKeys)
        {
            for key in inner.keys {
                if lookup[key] != nil {
                    context.error(
                        .conflictingKeys, "'\(key)' is given both at the root and inside 'execution'", at: inner.keyLocation(key),
                        hint: "keep one of them")
                } else {
                    lookup[key] = inner[key]
                }
            }
        }
        func node(_ key: String) -> YAMLNode? { lookup[key] }

        var id = "?"
        if let n = node("workflow") {
            id = context.identifier(n, "workflow id", lowercaseOnly: true) ?? id
        } else {
            context.error(.missingKey, "the workflow has no 'workflow' id", at: root, hint: "add a first line such as `workflow: order_processing`")
        }
        workflowID = id
        var workflow = Workflow(id: id, activities: [], location: root.location)
        var scope = Scope(workflowID: id)
        if let n = node("version") { workflow.version = context.string(n, "version") }
        if let n = node("description") { workflow.description = context.string(n, "description") }
        workflow.triggers = readTriggers(trigger: node("trigger"), triggers: node("triggers"), root: root)
        if let n = node("input") { workflow.input = readSchema(n, "input") }
        if let n = node("context") { workflow.context = readContext(n) }
        if let n = node("output") { workflow.output = context.valueTemplate(n) }
        if let n = node("timeout") { workflow.timeout = context.duration(n, "timeout") }
        if let n = node("policies") { readPolicies(n, into: &scope) }
        if let n = node("error_handling") { workflow.errorHandling = readErrorHandling(n, scope: scope) }
        if let n = node("concurrency") { workflow.concurrency = context.concurrency(n) }
        if let n = node("compensation") { workflow.compensation = readCompensationPolicy(n, scope: scope) }

        var activities: [(Activity, YAMLNode)] = []
        var declaresOrder = false
        if let n = node("activities") {
            if let saga = node("saga") {
                context.error(.conflictingKeys, "a workflow has either 'activities' or 'saga.steps', not both", at: saga)
            }
            if let items = sequence(n, "activities") {
                if items.isEmpty {
                    context.error(.missingKey, "'activities' is empty", at: n, hint: "a workflow needs at least one activity")
                }
                for item in items {
                    if let a = readActivity(item, scope: scope, sagaStep: false) { activities.append((a, item)) }
                    if let m = item.mapping, m.contains(where: { ["needs", "after"].contains($0.key.scalar?.text) }) {
                        declaresOrder = true
                    }
                }
            }
        } else if let saga = node("saga") {
            activities = readSaga(saga, scope: scope)
        } else {
            context.error(.missingKey, "the workflow has no 'activities'", at: root, hint: "add `activities:` with at least one activity")
        }
        let edges = node("edges").map(readEdges) ?? []
        if !edges.isEmpty { declaresOrder = true }
        if let n = node("compensation_activities") { applyCompensationMap(n, to: &activities, scope: scope) }

        // Seed style: with no `needs` and no `edges` anywhere, the list runs in order.
        if !declaresOrder {
            for index in activities.indices.dropFirst() {
                activities[index].0.dependencies = [Dependency(activities[index - 1].0.name)]
            }
        }
        for edge in edges {
            guard let index = activities.firstIndex(where: { $0.0.name == edge.to }) else {
                reportUnknownActivity(edge.to, at: edge.toNode, names: activities.map(\.0.name), field: "edge 'to'")
                continue
            }
            guard activities.contains(where: { $0.0.name == edge.from }) else {
                reportUnknownActivity(edge.from, at: edge.fromNode, names: activities.map(\.0.name), field: "edge 'from'")
                continue
            }
            activities[index].0.dependencies.append(Dependency(edge.from, when: edge.when))
        }
        workflow.activities = activities.map(\.0)
        // `isolation:` of the workflow is the default of its activities' own.
        if let n = node("isolation"), let isolation = readIsolation(n) {
            for index in workflow.activities.indices where workflow.activities[index].limits.isolation == nil {
                workflow.activities[index].limits.isolation = isolation
            }
        }
        var compensationNames = Set(workflow.activities.map(\.name))
        for entry in workflow.compensation.activities where !compensationNames.insert(entry.name).inserted {
            context.error(
                .duplicateName, "'\(entry.name)' in 'compensation.activities' is already the name of an activity or compensation",
                at: entry.handler.location, hint: "compensations are reported by name: give each a name of its own")
        }
        if workflow.errorHandling.strategy == nil, let n = node("compensation"), n.mapping?.contains(where: { $0.key.scalar?.text == "mode" }) == true {
            // `compensation: {mode: automatic}` (seed) asks for compensation on failure.
            workflow.errorHandling.strategy = .compensate
        }
        return workflow
    }

    // MARK: - Pieces

    /// `isolation: in_process | process` (docs/sandbox.md).
    func readIsolation(_ node: YAMLNode) -> ScriptIsolation? {
        context.choice(node, "isolation", ScriptIsolation.allCases.map(\.rawValue)).flatMap(ScriptIsolation.init(rawValue:))
    }

    func sequence(_ node: YAMLNode, _ field: String) -> [YAMLNode]? {
        guard let items = node.sequence else {
            context.error(.typeMismatch, "'\(field)' must be a list, not \(node.kindDescription)", at: node)
            return nil
        }
        return items
    }

    func reportUnknownActivity(_ name: String, at node: YAMLNode, names: [String], field: String) {
        var message = "\(field) names '\(name)', which is not an activity of this workflow"
        if let s = Suggest.closest(to: name, in: names) { message += " — did you mean '\(s)'?" }
        context.error(.unknownReference, message, at: node)
    }

    private func readContext(_ node: YAMLNode) -> OrderedDictionary<String, Value> {
        guard let map = node.mapping else {
            context.error(.typeMismatch, "'context' must be a mapping of variable names to defaults, not \(node.kindDescription)", at: node)
            return [:]
        }
        var out = OrderedDictionary<String, Value>()
        for pair in map {
            guard let name = context.identifier(pair.key, "context variable name") else { continue }
            if let text = pair.value.scalar?.text, text.contains("${") {
                context.error(
                    .badTemplate, "context defaults are plain values; '${ }' is not evaluated here", at: pair.value,
                    hint: "set the variable from an activity instead (`call: set` or `workflow.\(name) = …` in Lua)")
                continue
            }
            if let v = context.value(pair.value) { out[name] = v }
        }
        return out
    }

    func readSchema(_ node: YAMLNode, _ field: String) -> SchemaDefinition? {
        guard node.mapping != nil else {
            if case .bool(let b) = node.resolvedScalar { return SchemaDefinition(schema: .bool(b), location: node.location) }
            context.error(.typeMismatch, "'\(field)' must be a JSON Schema (a mapping, or {$ref: ../schemas/file.json}), not \(node.kindDescription)", at: node)
            return nil
        }
        guard let value = context.value(node) else { return nil }
        // A schema that is only a `$ref` to a file is replaced by that file.
        if case .object(let members) = value, members.count == 1, case .string(let ref)? = members["$ref"], !ref.hasPrefix("#") {
            let refNode = node.mapping!.first!.value
            switch environment.schema(ref) {
            case .success(var schema):
                schema.location = refNode.location
                return schema
            case .failure(let failure):
                if let inner = failure.inner { context.append(inner) }
                context.error(failure.code, failure.message, at: refNode, hint: failure.hint)
                return nil
            }
        }
        if environment.checksPatternShapes {
            for finding in SchemaPatternCheck.findings(in: value) {
                let isKey = finding.path.dropLast().last == "patternProperties"
                context.error(.invalidValue, finding.message, at: SchemaPatternCheck.node(at: finding.path, in: node, key: isKey), hint: SchemaPatternCheck.Finding.hint)
            }
        }
        return SchemaDefinition(schema: value, location: node.location)
    }

    // MARK: Triggers

    static let triggerKeys = ["type", "event", "conditions", "when", "input", "dedupe", "manual", "schedule", "cron", "timezone"]

    private func readTriggers(trigger: YAMLNode?, triggers: YAMLNode?, root: YAMLNode) -> [Trigger] {
        if trigger != nil, let triggers {
            context.error(.conflictingKeys, "use 'trigger' (one) or 'triggers' (a list), not both", at: triggers)
            return []
        }
        if let trigger { return readTrigger(trigger).map { [$0] } ?? [] }
        if let triggers, let items = sequence(triggers, "triggers") { return items.compactMap(readTrigger) }
        return [.manual]
    }

    private func readTrigger(_ node: YAMLNode) -> Trigger? {
        // `trigger: manual` (seed shorthand).
        if let text = node.scalar?.text {
            if text == "manual" { return Trigger(.manual, location: node.location) }
            context.error(.typeMismatch, "a trigger must be a mapping such as {event: ticket:created} or {manual: {}}, not \(node.kindDescription)", at: node)
            return nil
        }
        guard let map = MappingReader(node, context, what: "the trigger", allowed: Self.triggerKeys) else { return nil }
        let kinds = ["event", "manual", "schedule", "cron"].filter(map.has)
        var declared: String?
        if let t = map["type"] { declared = context.choice(t, "type", ["manual", "event", "schedule"]) }
        let kindName = declared ?? (kinds.contains("event") ? "event" : kinds.contains("manual") ? "manual" : (kinds.contains("schedule") || kinds.contains("cron")) ? "schedule" : nil)
        guard let kindName else {
            context.error(.missingKey, "the trigger says neither 'event', 'manual' nor 'schedule'", at: node, hint: "for example: trigger: {event: ticket:created}")
            return nil
        }
        let others = kinds.filter { $0 != kindName && !(kindName == "schedule" && $0 == "cron") }
        if !others.isEmpty {
            context.error(.conflictingKeys, "a trigger has one kind: '\(kindName)' and '\(others[0])' were both given", at: map.keyLocation(others[0]), hint: "list several triggers under `triggers:`")
        }
        var trigger = Trigger(.manual, location: node.location)
        switch kindName {
        case "event":
            guard let typeNode = map["event"], let type = context.string(typeNode, "event") else {
                if !map.has("event") { context.error(.missingKey, "an event trigger needs 'event: <type>'", at: node) }
                return nil
            }
            var conditions = OrderedDictionary<String, Value>()
            if let c = map["conditions"] {
                if c.mapping == nil {
                    context.error(.typeMismatch, "'conditions' must be a mapping of payload fields to values, not \(c.kindDescription)", at: c)
                } else if case .object(let o)? = context.value(c) {
                    conditions = o
                }
            }
            trigger.kind = .event(type: type, conditions: conditions)
        case "schedule":
            var cronNode = map["cron"]
            var zoneNode = map["timezone"]
            if let s = map["schedule"] {
                if s.scalar != nil {
                    cronNode = s
                } else if let inner = MappingReader(s, context, what: "'schedule'", allowed: ["cron", "timezone"]) {
                    cronNode = inner["cron"] ?? cronNode
                    zoneNode = inner["timezone"] ?? zoneNode
                }
            }
            guard let cronNode, let cron = context.string(cronNode, "cron") else {
                context.error(.missingKey, "a schedule trigger needs 'cron' (e.g. \"*/5 * * * *\")", at: node)
                return nil
            }
            if let problem = CronCheck.problem(in: cron) {
                context.error(.invalidValue, "'cron': \(problem)", at: cronNode, hint: "five fields: minute hour day-of-month month day-of-week, e.g. \"0 9 * * MON-FRI\"")
            }
            let zone = zoneNode.flatMap { context.string($0, "timezone") }
            if let zone, let zoneNode, !CronCheck.isTimeZoneName(zone) {
                context.error(
                    .invalidValue, "'timezone': '\(zone)' is not an IANA time zone name such as Europe/Paris or UTC", at: zoneNode,
                    hint: "see the tz database names, e.g. America/New_York")
            }
            trigger.kind = .schedule(cron: cron, timezone: zone)
        default:
            if let m = map["manual"], m.mapping == nil, m.resolvedScalar != .null, m.resolvedScalar != .bool(true) {
                context.error(.typeMismatch, "'manual' takes an empty mapping ({}), not \(m.kindDescription)", at: m)
            }
            if map.has("conditions") || map.has("dedupe") {
                context.error(.conflictingKeys, "'conditions' and 'dedupe' apply to event triggers only", at: map.keyLocation(map.has("conditions") ? "conditions" : "dedupe"))
            }
        }
        if let w = map["when"] { trigger.when = context.expression(w, "when") }
        if let i = map["input"] { trigger.input = context.valueTemplate(i) }
        if let d = map["dedupe"] { trigger.dedupe = context.template(d, "dedupe") }
        return trigger
    }

    // MARK: Policies

    static let retryKeys = ["max_attempts", "backoff", "retry_on", "non_retryable", "max_interruptions", "initial", "multiplier", "max", "jitter"]
    static let backoffKeys = ["initial", "multiplier", "max", "jitter", "type"]
    static let breakerKeys = ["threshold", "timeout", "reset", "half_open_max_calls", "ignore", "failure_rate", "window", "minimum_calls", "monitoring"]
    static let bulkheadKeys = ["max_concurrent", "max_queue_size", "timeout", "fallback"]

    private func readPolicies(_ node: YAMLNode, into scope: inout Scope) {
        guard let map = MappingReader(node, context, what: "'policies'", allowed: ["retry", "circuit_breakers", "bulkheads", "circuit_breaker", "bulkhead"]) else { return }
        if let r = map["retry"], let pairs = namedEntries(r, "policies.retry") {
            for (name, value) in pairs { scope.retry[name] = readRetry(value, name: name) }
        }
        if let c = map["circuit_breakers"], let pairs = namedEntries(c, "policies.circuit_breakers") {
            for (name, value) in pairs { scope.breakers[name] = readBreaker(value, name: name) }
        }
        if let b = map["bulkheads"], let pairs = namedEntries(b, "policies.bulkheads") {
            for (name, value) in pairs { scope.bulkheads[name] = readBulkhead(value, name: name, scope: scope) }
        }
        // Seed form: one breaker/bulkhead under `policies` applies to every activity that declares none.
        if let c = map["circuit_breaker"] { scope.defaultBreaker = readBreaker(c, name: scope.workflowID) }
        if let b = map["bulkhead"] { scope.defaultBulkhead = readBulkhead(b, name: scope.workflowID, scope: scope) }
    }

    private func namedEntries(_ node: YAMLNode, _ field: String) -> [(String, YAMLNode)]? {
        guard let pairs = node.mapping else {
            context.error(.typeMismatch, "'\(field)' must map policy names to policies, not \(node.kindDescription)", at: node)
            return nil
        }
        return pairs.compactMap { pair in context.identifier(pair.key, "policy name").map { ($0, pair.value) } }
    }

    func readRetry(_ node: YAMLNode, name: String?) -> RetryPolicy? {
        guard let map = MappingReader(node, context, what: "the retry policy", allowed: Self.retryKeys) else { return nil }
        var policy = RetryPolicy(name: name)
        if let n = map["max_attempts"] { policy.maxAttempts = context.int(n, "max_attempts", 1...1000) ?? policy.maxAttempts }
        if let n = map["max_interruptions"] { policy.maxInterruptions = context.int(n, "max_interruptions", 1...1000) ?? policy.maxInterruptions }
        // `backoff:` block (canonical), or its keys directly in the retry block.
        var backoffNodes: [String: YAMLNode] = [:]
        for key in ["initial", "multiplier", "max", "jitter"] { if let n = map[key] { backoffNodes[key] = n } }
        if let b = map["backoff"], let bm = MappingReader(b, context, what: "'backoff'", allowed: Self.backoffKeys) {
            for key in ["initial", "multiplier", "max", "jitter"] { if let n = bm[key] { backoffNodes[key] = n } }
            if let t = bm["type"] { _ = context.choice(t, "backoff type", ["exponential"]) }
        }
        if let n = backoffNodes["initial"] { policy.initial = context.duration(n, "initial", allowZero: true) ?? policy.initial }
        if let n = backoffNodes["multiplier"] { policy.multiplier = context.number(n, "multiplier", 1...1000) ?? policy.multiplier }
        if let n = backoffNodes["max"] { policy.max = context.duration(n, "max") }
        if let n = backoffNodes["jitter"] {
            if case .bool(let b) = n.resolvedScalar {
                policy.jitter = b ? .full : .none
            } else if let j = context.choice(n, "jitter", ["none", "full"]) {
                policy.jitter = RetryPolicy.Jitter(rawValue: j)!
            }
        }
        if let n = map["retry_on"] { policy.retryOn = context.stringList(n, "retry_on").map { ErrorType($0.0) } }
        if let n = map["non_retryable"] { policy.nonRetryable = context.stringList(n, "non_retryable").map { ErrorType($0.0) } }
        return policy
    }

    func readBreaker(_ node: YAMLNode, name: String) -> CircuitBreakerPolicy? {
        guard let map = MappingReader(node, context, what: "the circuit breaker", allowed: Self.breakerKeys) else { return nil }
        var policy = CircuitBreakerPolicy(name: name)
        EngineConfigLoader.notSupported(
            map, "monitoring", "circuit_breaker.monitoring", context,
            instead: "every breaker is monitored: the moonflow_circuit_state metric (switched by moonflow.yaml monitoring.metrics) and circuit.* events")
        if let n = map["threshold"] { policy.threshold = context.int(n, "threshold", 1...1_000_000) }
        if let n = map["timeout"] { policy.timeout = context.duration(n, "timeout") }
        if let n = map["reset"] { policy.reset = context.duration(n, "reset") ?? policy.reset }
        if let n = map["half_open_max_calls"] { policy.halfOpenMaxCalls = context.int(n, "half_open_max_calls", 1...10_000) ?? 1 }
        if let n = map["ignore"] { policy.ignore = context.stringList(n, "ignore").map { ErrorType($0.0) } }
        if let n = map["failure_rate"] {
            var rate: Double?
            if let text = n.scalar?.text, text.hasSuffix("%") {
                let number = YAMLNode(.scalar(YAMLScalar(String(text.dropLast()))), location: n.location)
                rate = context.number(number, "failure_rate", 1...100).map { $0 / 100 }
            } else {
                rate = context.number(n, "failure_rate", 0.01...1)
            }
            if let rate {
                let window = map["window"].flatMap { context.int($0, "window", 1...100_000) } ?? 20
                let minimum = map["minimum_calls"].flatMap { context.int($0, "minimum_calls", 1...100_000) } ?? min(10, window)
                policy.rate = .init(failureRate: rate, window: window, minimumCalls: minimum)
                if !map.has("threshold") { policy.threshold = nil }
            }
        } else if map.has("window") || map.has("minimum_calls") {
            context.error(.missingKey, "'window' and 'minimum_calls' need 'failure_rate' (e.g. failure_rate: 50%)", at: node)
        }
        return policy
    }

    func readBulkhead(_ node: YAMLNode, name: String, scope: Scope) -> BulkheadPolicy? {
        guard let map = MappingReader(node, context, what: "the bulkhead", allowed: Self.bulkheadKeys) else { return nil }
        guard let n = map["max_concurrent"] else {
            context.error(.missingKey, "a bulkhead needs 'max_concurrent'", at: node)
            return nil
        }
        guard let maxConcurrent = context.int(n, "max_concurrent", 1...1_000_000) else { return nil }
        var policy = BulkheadPolicy(name: name, maxConcurrent: maxConcurrent)
        if let q = map["max_queue_size"] { policy.maxQueueSize = context.int(q, "max_queue_size", 0...10_000_000) ?? 0 }
        if let t = map["timeout"] { policy.timeout = context.duration(t, "timeout") }
        if let f = map["fallback"] { policy.fallback = readFallback(f, scope: scope) }
        return policy
    }

    private func readErrorHandling(_ node: YAMLNode, scope: Scope) -> ErrorHandling {
        var out = ErrorHandling()
        guard let map = MappingReader(node, context, what: "'error_handling'", allowed: ["activity_error", "workflow_error"]) else { return out }
        if let a = map["activity_error"], let am = MappingReader(a, context, what: "'activity_error'", allowed: ["retry", "fallback"]) {
            if let r = am["retry"] { out.retry = resolveRetry(r, scope: scope) }
            if let f = am["fallback"] { out.fallback = readFallback(f, scope: scope) }
        }
        if let w = map["workflow_error"], let wm = MappingReader(w, context, what: "'workflow_error'", allowed: ["strategy", "notification"]) {
            if let s = wm["strategy"], let v = context.choice(s, "strategy", ["compensate", "fail"]) { out.strategy = .init(rawValue: v) }
            if let n = wm["notification"], let nm = MappingReader(n, context, what: "'notification'", allowed: ["channels", "recipients"]) {
                let channels = nm["channels"].map { context.stringList($0, "channels") } ?? []
                noteChannels(channels)
                out.notification = .init(
                    channels: channels.map(\.0),
                    recipients: nm["recipients"].map { context.stringList($0, "recipients").map(\.0) } ?? [])
            }
        }
        return out
    }

    private func readCompensationPolicy(_ node: YAMLNode, scope: Scope) -> CompensationPolicy {
        var out = CompensationPolicy()
        let keys = ["strategy", "on_error", "timeout", "mode", "activities", "notification"]
        guard let map = MappingReader(node, context, what: "'compensation'", allowed: keys) else { return out }
        if map.has("notification") {
            context.error(
                .invalidValue, "not supported: 'compensation.notification'", at: map.keyLocation("notification"),
                hint: "use error_handling.workflow_error.notification: it announces run.notification when the run ends compensated or compensation_failed")
        }
        if let a = map["activities"] {
            if let items = a.sequence {
                out.activities = items.compactMap { readWorkflowCompensation($0, scope: scope) }
            } else {
                context.error(.typeMismatch, "'compensation.activities' must be a list of compensations, not \(a.kindDescription)", at: a)
            }
        }
        if let s = map["strategy"], let v = context.choice(s, "strategy", ["reverse", "parallel"]) { out.strategy = .init(rawValue: v)! }
        if let s = map["on_error"], let v = context.choice(s, "on_error", ["halt", "continue"]) { out.onError = .init(rawValue: v)! }
        if let t = map["timeout"] { out.timeout = context.duration(t, "timeout") }
        if let m = map["mode"] { _ = context.choice(m, "mode", ["automatic"]) }
        return out
    }

    /// An entry of `compensation.activities`: `{name, run|script|call?, with?, retry?, timeout?}`;
    /// without a body, the script named like it.
    private func readWorkflowCompensation(_ node: YAMLNode, scope: Scope) -> WorkflowCompensation? {
        let keys = ["name", "run", "script", "call", "with", "params", "retry", "timeout"]
        guard let map = MappingReader(node, context, what: "a workflow compensation", allowed: keys) else { return nil }
        guard let n = map["name"], let name = context.identifier(n, "compensation name") else {
            if !map.has("name") { context.error(.missingKey, "a workflow compensation needs a 'name'", at: node) }
            return nil
        }
        guard let handler = readHandler(map, node: node, scope: scope, role: name) else { return nil }
        return WorkflowCompensation(name: name, handler: handler)
    }

    // MARK: Edges

    struct Edge {
        var from: String
        var to: String
        var when: Expression?
        var fromNode: YAMLNode
        var toNode: YAMLNode
    }

    private func readEdges(_ node: YAMLNode) -> [Edge] {
        guard let items = sequence(node, "edges") else { return [] }
        return items.compactMap { item in
            guard let map = MappingReader(item, context, what: "an edge", allowed: ["from", "to", "when"]) else { return nil }
            guard let f = map["from"], let t = map["to"] else {
                context.error(.missingKey, "an edge needs both 'from' and 'to'", at: item)
                return nil
            }
            guard let from = context.string(f, "from"), let to = context.string(t, "to") else { return nil }
            return Edge(from: from, to: to, when: map["when"].flatMap { context.expression($0, "when") }, fromNode: f, toNode: t)
        }
    }
}
