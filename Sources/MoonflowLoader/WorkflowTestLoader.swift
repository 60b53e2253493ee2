package import Foundation
package import MoonflowModel
import MoonflowYAML

/// Reads `workflows/<id>.test.yaml` (the cases `moonflow test` runs) with the strictness of
/// workflow files:
///
/// ```yaml
/// tests:
///   - name: declined card compensates nothing
///     input: {order_id: ORD-1, decline_payment: true}
///     mocks:
///       reserve_inventory:
///         - error: {type: WarehouseDown, message: try later}
///         - output: {reservation_id: R1}
///           delay: 2s
///     tasks:
///       approve: {data: {approved: true}, user: alice}
///     expect:
///       status: completed
///       path: [charge_payment, reserve_inventory]
///       attempts: {reserve_inventory: 2}
/// ```
package enum WorkflowTestLoader {
    /// The test file of a workflow file: `workflows/order.yaml` → `workflows/order.test.yaml`.
    package static func testFile(for workflowFile: URL) -> URL {
        workflowFile.deletingPathExtension().appendingPathExtension("test.yaml")
    }

    /// Reads a test file under the project's confinement rule (`ProjectFileReader`, from the
    /// project directory, the folder above `workflows/`): a regular file, no symbolic link on the
    /// way (`workflows/` included), within the size limit.
    package static func load(_ url: URL, displayName: String) -> Result<[WorkflowTestCase], ProjectLoadResult> {
        let start = SourceLocation(file: displayName, line: 1, column: 1)
        let data: [UInt8]
        switch ProjectFileReader(root: url.deletingLastPathComponent().deletingLastPathComponent()).read(url, maxSize: YAMLLimits().maxFileSize) {
        case .success(let bytes): data = bytes
        case .failure(let failure):
            let problem =
                failure == .missing
                ? Diagnostic(.badFile, "cannot read the test file", at: start, hint: "create it next to the workflow: \(url.lastPathComponent)")
                : Diagnostic(failure.isSymbolicLink ? .pathEscapes : .badFile, "the test file \(failure.predicate)", at: start)
            return .failure(ProjectLoadResult(workflows: [], diagnostics: [problem], files: [displayName], sources: [:]))
        }
        let source = String(decoding: data, as: UTF8.self)
        let root: YAMLNode
        do {
            root = try YAMLParser.parse(data, file: displayName)
        } catch {
            return .failure(ProjectLoadResult(workflows: [], diagnostics: error.diagnostics, files: [displayName], sources: [displayName: source]))
        }
        let context = FileContext(file: displayName, source: source)
        var cases: [WorkflowTestCase] = []
        if let map = MappingReader(root, context, what: "the test file", allowed: ["tests"]) {
            if let list = map["tests"], let items = list.sequence {
                cases = items.compactMap { readCase($0, context) }
                if items.isEmpty { context.error(.missingKey, "'tests' is empty", at: list) }
            } else {
                context.error(.missingKey, "the test file needs a 'tests' list", at: root)
            }
        }
        guard !context.hasErrors else {
            return .failure(ProjectLoadResult(workflows: [], diagnostics: context.sortedDiagnostics, files: [displayName], sources: [displayName: source]))
        }
        return .success(cases)
    }

    private static func readCase(_ node: YAMLNode, _ context: FileContext) -> WorkflowTestCase? {
        guard let map = MappingReader(node, context, what: "a test", allowed: ["name", "input", "earlier_runs", "mocks", "http", "tasks", "expect"]) else { return nil }
        guard let nameNode = map["name"], let name = context.string(nameNode, "name") else {
            if !map.has("name") { context.error(.missingKey, "a test needs a 'name'", at: node) }
            return nil
        }
        var test = WorkflowTestCase(name: name, location: node.location)
        if let i = map["input"] { test.input = context.value(i) ?? test.input }
        if let r = map["earlier_runs"] {
            if let items = r.sequence {
                test.earlierRuns = items.compactMap { context.value($0) }
            } else {
                context.error(.typeMismatch, "'earlier_runs' must be a list of inputs, not \(r.kindDescription)", at: r)
            }
        }
        if let m = map["mocks"] {
            guard let pairs = m.mapping else {
                context.error(.typeMismatch, "'mocks' must map activity names to lists of outcomes, not \(m.kindDescription)", at: m)
                return nil
            }
            for pair in pairs {
                guard let activity = context.string(pair.key, "activity name") else { continue }
                let outcomes = (pair.value.sequence ?? [pair.value]).compactMap { readOutcome($0, context) }
                test.mocks[activity] = outcomes
            }
        }
        if let t = map["tasks"], let pairs = t.mapping {
            for pair in pairs {
                guard let activity = context.string(pair.key, "activity name"),
                    let tm = MappingReader(pair.value, context, what: "a task completion", allowed: ["data", "user"])
                else { continue }
                guard let dataNode = tm["data"], let data = context.value(dataNode) else {
                    context.error(.missingKey, "a task completion needs 'data'", at: pair.value)
                    continue
                }
                test.tasks[activity] = .init(data: data, user: tm["user"].flatMap { context.string($0, "user") })
            }
        } else if let t = map["tasks"] {
            context.error(.typeMismatch, "'tasks' must map manual activities to completions, not \(t.kindDescription)", at: t)
        }
        if let h = map["http"] {
            if let items = h.sequence {
                test.http = items.compactMap { readHTTPMock($0, context) }
            } else {
                context.error(.typeMismatch, "'http' must be a list of mocked requests, not \(h.kindDescription)", at: h)
            }
        }
        if let e = map["expect"] { test.expect = readExpectations(e, context) }
        return test
    }

    /// `{connection, method, path, respond: {status, json | body, headers, delay}}`.
    static func readHTTPMock(_ node: YAMLNode, _ context: FileContext) -> WorkflowTestCase.HTTPMock? {
        guard let map = MappingReader(node, context, what: "a mocked request", allowed: ["connection", "method", "path", "respond"]) else { return nil }
        guard let c = map["connection"], let connection = context.string(c, "connection") else {
            if !map.has("connection") { context.error(.missingKey, "a mocked request needs a 'connection'", at: node) }
            return nil
        }
        guard let r = map["respond"], let respond = MappingReader(r, context, what: "'respond'", allowed: ["status", "json", "body", "headers", "delay"]) else {
            if !map.has("respond") { context.error(.missingKey, "a mocked request needs 'respond: {status, json | body}'", at: node) }
            return nil
        }
        var mock = WorkflowTestCase.HTTPMock(connection: connection, response: HTTPCallResponse(status: 200))
        if let m = map["method"], let method = context.choice(m, "method", HTTPCall.methods + HTTPCall.methods.map { $0.lowercased() }) {
            mock.method = method.uppercased()
        }
        if let p = map["path"], let path = context.string(p, "path") { mock.path = path.hasPrefix("/") ? path : "/" + path }
        if let s = respond["status"] { mock.response.status = context.int(s, "status", 100...599) ?? 200 }
        if respond.has("json"), respond.has("body") {
            context.error(.conflictingKeys, "'respond' gives 'json' or 'body', not both", at: r)
        } else if let j = respond["json"], let json = context.value(j) {
            mock.response.body = .json(json)
            mock.response.headers["content-type"] = "application/json"
        } else if let b = respond["body"], let body = context.string(b, "body") {
            mock.response.body = .text(body)
        }
        if let h = respond["headers"], let pairs = h.mapping {
            for pair in pairs {
                if let name = context.string(pair.key, "header name"), let value = context.string(pair.value, "header value") {
                    mock.response.headers[name.lowercased()] = value
                }
            }
        } else if let h = respond["headers"] {
            context.error(.typeMismatch, "'headers' must be a mapping of names to values, not \(h.kindDescription)", at: h)
        }
        mock.response.retryAfter = mock.response.headers["retry-after"].flatMap { Int64($0) }.map { .seconds($0) }
        if let d = respond["delay"] { mock.delay = context.duration(d, "delay", allowZero: true) }
        return mock
    }

    private static func readOutcome(_ node: YAMLNode, _ context: FileContext) -> WorkflowTestCase.MockOutcome? {
        guard let map = MappingReader(node, context, what: "a mocked outcome", allowed: ["output", "error", "delay"]) else { return nil }
        if map.has("output") == map.has("error") {
            context.error(.conflictingKeys, "a mocked outcome gives exactly one of 'output' or 'error'", at: node)
            return nil
        }
        var outcome = WorkflowTestCase.MockOutcome()
        if let o = map["output"] { outcome.output = context.value(o) }
        if let e = map["error"] {
            if let text = e.scalar?.text {
                outcome.error = ActivityFailure(ErrorType(text), "mocked \(text)")
            } else if let em = MappingReader(e, context, what: "a mocked error", allowed: ["type", "message", "retryable"]) {
                let type = em["type"].flatMap { context.string($0, "type") } ?? "ActivityError"
                let message = em["message"].flatMap { context.string($0, "message") } ?? "mocked \(type)"
                outcome.error = ActivityFailure(ErrorType(type), message, retryable: em["retryable"].flatMap { context.bool($0, "retryable") })
            }
        }
        if let d = map["delay"] { outcome.delay = context.duration(d, "delay", allowZero: true) }
        return outcome
    }

    private static func readExpectations(_ node: YAMLNode, _ context: FileContext) -> WorkflowTestCase.Expectations {
        var expect = WorkflowTestCase.Expectations()
        let keys = ["status", "path", "attempts", "statuses", "compensations", "output", "context", "error"]
        guard let map = MappingReader(node, context, what: "'expect'", allowed: keys) else { return expect }
        let runStatuses = ["completed", "failed", "compensated", "compensation_failed", "timed_out", "cancelled", "terminated", "waiting"]
        if let s = map["status"] { expect.status = context.choice(s, "status", runStatuses) }
        if let p = map["path"] { expect.path = context.stringList(p, "path").map(\.0) }
        if let a = map["attempts"], let pairs = a.mapping {
            for pair in pairs {
                if let name = context.string(pair.key, "activity name"), let n = context.int(pair.value, "attempts", 0...100_000) { expect.attempts[name] = n }
            }
        }
        if let s = map["statuses"], let pairs = s.mapping {
            let activityStatuses = ["pending", "scheduled", "running", "completed", "completed_via_fallback", "failed", "skipped", "cancelled", "backoff", "waiting"]
            for pair in pairs {
                if let name = context.string(pair.key, "activity name"), let v = context.choice(pair.value, "status", activityStatuses) { expect.statuses[name] = v }
            }
        }
        if let c = map["compensations"] { expect.compensations = context.stringList(c, "compensations").map(\.0) }
        if let o = map["output"] { expect.output = context.value(o) }
        if let c = map["context"] { expect.context = context.value(c) }
        if let e = map["error"] { expect.errorType = context.string(e, "error") }
        return expect
    }
}
