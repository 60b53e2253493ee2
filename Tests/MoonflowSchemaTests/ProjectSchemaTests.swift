import Foundation
import MoonflowModel
import Testing

@testable import MoonflowSchema

/// The repository's own schemas: `schemas/workflow.schema.json` and `schemas/report.schema.json`.
@Suite("Project schemas")
struct ProjectSchemaTests {
    static let schemas = TestPaths.repositoryRoot.appendingPathComponent("schemas")

    static func load(_ name: String) throws -> JSONSchema {
        let url = schemas.appendingPathComponent(name)
        return try JSONSchema(
            try loadJSON(url), baseURI: url, resolver: FileSchemaResolver(root: schemas), options: .init(assertFormats: true))
    }

    /// The schemas themselves are valid against the draft 2020-12 meta-schema.
    @Test(arguments: ["workflow.schema.json", "report.schema.json"])
    func schemaIsValidAgainstTheMetaschema(_ name: String) throws {
        let meta = try JSONSchema(["$ref": "https://json-schema.org/draft/2020-12/schema"])
        #expect(meta.validate(try loadJSON(Self.schemas.appendingPathComponent(name))) == [])
    }

    /// Every property of the workflow schema carries a description (editors show them on hover);
    /// the constraint-only `properties` of `if`/`then`/`else` blocks are not documentation.
    @Test func everyWorkflowPropertyIsDescribed() throws {
        var missing: [String] = []
        func visit(_ value: Value, _ path: String) {
            switch value {
            case .object(let members):
                if case .object(let properties)? = members["properties"], !["/if", "/then", "/else"].contains(where: path.hasSuffix) {
                    for (name, schema) in properties where schema["description"] == nil && schema["$ref"] == nil {
                        missing.append(path + "/properties/" + name)
                    }
                }
                for (key, child) in members { visit(child, path + "/" + key) }
            case .array(let items):
                for (i, child) in items.enumerated() { visit(child, path + "/\(i)") }
            default:
                break
            }
        }
        visit(try loadJSON(Self.schemas.appendingPathComponent("workflow.schema.json")), "")
        #expect(missing == [])
    }

    static let validWorkflows: [String] = [
        #"{"workflow": "hello", "activities": [{"name": "a", "run": "return 1"}]}"#,
        // docs/workflow-format.md's example.
        #"""
        {"workflow": "high_priority_ticket", "version": 3, "description": "Escalate high-priority tickets",
         "trigger": {"event": "ticket:created", "conditions": {"priority": "high"}, "when": "${ event.tier ~= \"free\" }",
                     "input": {"ticket_id": "${ event.id }"}, "dedupe": "${ event.id }"},
         "input": {"$ref": "../schemas/ticket.json"}, "context": {"sla_hours": 4},
         "output": {"agent": "${ workflow.assigned_agent }"}, "timeout": "10m",
         "policies": {"retry": {"standard": {"max_attempts": 3, "backoff": {"initial": "1s", "multiplier": 2, "max": "30s", "jitter": "full"}}},
                      "circuit_breakers": {"crm": {"threshold": 5, "timeout": "60s", "reset": "300s"}},
                      "bulkheads": {"crm": {"max_concurrent": 10, "max_queue_size": 100, "timeout": "30s"}}},
         "error_handling": {"activity_error": {"retry": "standard", "fallback": {"activity": "skip", "notify": true}},
                            "workflow_error": {"strategy": "compensate", "notification": {"channels": ["log"], "recipients": ["workflow_admin"]}}},
         "concurrency": {"max_workflows": 1000, "max_activities": 100, "queuing": {"strategy": "fifo", "timeout": "30s", "max_size": 10000}},
         "compensation": {"strategy": "reverse", "on_error": "halt", "timeout": "5m"},
         "activities": [
           {"name": "notify_team"},
           {"name": "assign_agent", "needs": ["notify_team"], "run": "workflow.assigned_agent = \"A-456\"\nreturn {agent_id = workflow.assigned_agent}\n",
            "with": {"ticket_id": "${ input.ticket_id }"}, "when": "${ input.priority ~= \"low\" }", "timeout": "10s", "total_timeout": "1m",
            "retry": "standard", "circuit_breaker": "crm", "bulkhead": "crm", "fallback": {"activity": "degrade_service"},
            "compensate": {"script": "unassign_agent", "with": {"ticket_id": "${ workflow.ticket_id }", "agent_id": "${ output.agent_id }"}},
            "input_schema": {"$ref": "../schemas/assign.json"}, "output_schema": {"type": "object", "required": ["agent_id"]},
            "priority": "high", "limits": {"memory": "16MB", "instructions": 50000000}},
           {"name": "approve", "needs": ["assign_agent"], "type": "manual", "assign": {"users": ["alice"], "groups": ["tier2"]},
            "form": {"$ref": "../schemas/approval.json"}, "due": "4h", "remind": ["1h", "3h"],
            "on_timeout": {"fallback": {"output": {"approved": false}}}}],
         "edges": [{"from": "approve", "to": "close_ticket", "when": "${ steps.approve.output.approved }"}]}
        """#,
        // The seed vocabulary.
        #"""
        {"execution": {"workflow": "order_processing",
                       "trigger": {"event": "order:placed", "conditions": {"channel": ["web", "mobile"]}},
                       "activities": [{"name": "validate_order"}, {"name": "charge", "after": "validate_order", "circuit_breaker": {"threshold": 3, "timeout": "5s", "reset": "PT1M"},
                                       "bulkhead": {"max_concurrent": 2, "max_queue_size": 10, "timeout": "1s", "fallback": {"output": null}}}],
                       "compensation": {"strategy": "reverse", "mode": "automatic", "timeout": "5m"}}}
        """#,
        #"""
        {"workflow": "lead_qualification", "triggers": [{"manual": {}}, {"schedule": {"cron": "*/5 * * * *"}}],
         "error_handling": {"activity_error": {"retry": {"max_attempts": 5, "backoff": {"initial": "500ms", "multiplier": 1.5}}}},
         "compensation_activities": {"assign_agent": {"activity": "unassign_agent", "params": {"reason": "rollback"}}},
         "saga": {"steps": [{"activity": "reserve", "compensation": "release"}, {"activity": "ship", "compensation": {"activity": "cancel_shipment"}}]},
         "activities": [{"name": "score", "call": "noop", "retry": {"max_attempts": 1, "retry_on": ["Timeout"], "non_retryable": ["SchemaInvalid"]},
                         "circuit_breaker": {"failure_rate": "50%", "window": 20, "minimum_calls": 10}, "priority": 5},
                        {"name": "child", "type": "workflow", "workflow": "inventory_reorder_alert", "fallback": "skip"}]}
        """#,
    ]

    @Test(arguments: validWorkflows)
    func validWorkflowPasses(_ text: String) throws {
        #expect(try Self.load("workflow.schema.json").validate(try Value(json: text)) == [])
    }

    static let badWorkflows: [(json: String, instancePath: String, message: String)] = [
        (#"{"workflow": "w", "policies": {"retry": {"std": {"max_attemps": 3}}}}"#, "/policies/retry/std/max_attemps", "unknown property"),
        (#"{"workflow": "w", "activities": [{"name": "a", "retry": {"max_attempts": 0}}]}"#, "/activities/0/retry/max_attempts", "must be >= 1"),
        (#"{"activities": [{"name": "a"}]}"#, "", "missing required property 'workflow'"),
        (#"{"workflow": "w", "timeout": "10 minutes"}"#, "/timeout", "must match at least one schema in anyOf: [0] must match the pattern"),
        (#"{"workflow": "w", "activities": [{"name": "a", "type": "lambda"}]}"#, "/activities/0/type", #"must be one of "manual", "workflow""#),
        (#"{"workflow": "Bad Id"}"#, "/workflow", "must match the pattern ^[a-z][a-z0-9_.-]*$"),
        (#"{"workflow": "w", "activities": [{"name": "a", "run": "x", "script": "y"}]}"#, "/activities/0/script", "is not allowed"),
        (#"{"workflow": "w", "limits": {}}"#, "/limits", "unknown property"),
        (#"{"workflow": "w", "activities": [{"name": "a", "limits": {"memory": "16 MB"}}]}"#, "/activities/0/limits/memory", "must match the pattern"),
    ]

    @Test(arguments: badWorkflows.indices)
    func typicalMistakesFail(_ index: Int) throws {
        let c = Self.badWorkflows[index]
        let errors = try Self.load("workflow.schema.json").validate(try Value(json: c.json))
        #expect(errors.contains { $0.instancePath == c.instancePath && $0.message.hasPrefix(c.message) }, "\(errors)")
    }

    static let sampleReport = #"""
        {"run_id": "r-1", "workflow": "high_priority_ticket", "version": 3, "definition_hash": "sha256:ab12",
         "status": "compensated", "started_at": "2025-01-01T10:00:00Z", "finished_at": "2025-01-01T10:00:02.5Z", "duration_ms": 2500,
         "input": {"ticket_id": "T-1"}, "context": {"sla_hours": 4}, "output": null,
         "error": {"type": "PaymentDeclined", "message": "card refused", "activity": "charge", "details": {"line": 3}},
         "activities": [
           {"name": "assign_agent", "status": "completed", "attempts": 1, "started_at": "2025-01-01T10:00:00Z",
            "finished_at": "2025-01-01T10:00:01Z", "duration_ms": 1000, "input": {}, "output": {"agent_id": "A-456"},
            "error": null, "seq": 1, "via_fallback": false},
           {"name": "charge", "status": "failed", "attempts": 3, "started_at": "2025-01-01T10:00:01Z",
            "finished_at": "2025-01-01T10:00:02Z", "duration_ms": 1000, "input": {}, "output": null,
            "error": {"type": "PaymentDeclined", "message": "card refused"}, "seq": null, "via_fallback": false}],
         "compensations": [{"activity": "assign_agent", "handler": "unassign_agent", "status": "completed", "attempts": 1,
                            "started_at": "2025-01-01T10:00:02Z", "finished_at": "2025-01-01T10:00:02.4Z", "error": null}],
         "tasks": [{"id": "t-1", "activity": "approve", "status": "open", "assignees": {"users": ["alice"], "groups": []}, "due": null}],
         "events": 12}
        """#

    @Test func sampleReportPasses() throws {
        #expect(try Self.load("report.schema.json").validate(try Value(json: Self.sampleReport)) == [])
    }

    @Test func brokenReportFails() throws {
        guard case .object(var report) = try Value(json: Self.sampleReport) else { return }
        report["status"] = "done"
        report["events"] = nil
        report["started_at"] = "yesterday"
        let errors = try Self.load("report.schema.json").validate(.object(report))
        #expect(Set(errors.map(\.instancePath)) == ["", "/status", "/started_at"])
    }
}
