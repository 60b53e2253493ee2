import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

/// The examples shipped in the repository's workflows/ must always validate.
@Suite struct ExampleProjectTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func everyShippedExampleValidates() {
        let result = ProjectLoader(projectDirectory: Self.repository).loadProject()
        #expect(result.diagnostics.isEmpty, "\(result.renderedDiagnostics())")
        #expect(
            Set(result.workflows.map(\.workflow.id))
                == ["hello", "order_processing", "lead_qualification", "inventory_reorder", "high_priority_ticket"])
    }

    @Test func theTicketExampleCompensatesAssignmentThenNotification() throws {
        let result = ProjectLoader(projectDirectory: Self.repository).loadProject()
        let ticket = try #require(result.workflow("high_priority_ticket")).workflow
        #expect(ticket.activities.map(\.name) == ["notify_team", "assign_agent", "set_sla"])
        #expect(ticket.activities.map { $0.compensate != nil } == [true, true, false])
        #expect(ticket.errorHandling.strategy == .compensate)
        #expect(ticket.triggers.first?.kind == .event(type: "ticket:created", conditions: ["priority": ["high", "urgent"]]))
    }

    @Test func graphRendersMermaidAndDot() throws {
        let result = ProjectLoader(projectDirectory: SeedShapeTests.project).loadProject()
        let diamond = try #require(result.workflow("diamond")).workflow
        #expect(
            WorkflowGraph.mermaid(diamond) == """
                flowchart TD
                    a_start["start<br/><i>call: noop</i>"]
                    a_left["left<br/><i>lua</i>"]
                    a_right[/"right<br/><i>manual task</i>"/]
                    a_join["join<br/><i>call: noop</i>"]
                    a_start --> a_left
                    a_start --> a_right
                    a_left --> a_join
                    a_right -.->|"steps.right.output.ok"| a_join

                """)
        #expect(WorkflowGraph.dot(diamond).contains(#""right" -> "join" [style=dashed, label="steps.right.output.ok"];"#))
    }
}
