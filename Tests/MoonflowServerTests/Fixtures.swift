/// Workflow files of the test projects.
enum Fixtures {
    static let hello = """
        workflow: hello
        version: "1"
        input:
          type: object
          properties: {name: {type: string}}
          additionalProperties: false
        activities:
          - name: greet
            run: return {greeting = "hello " .. (input.name or "world")}
        """

    /// A human approves; the second step records which version ran.
    static func approval(version: String) -> String {
        """
        workflow: approval
        version: "\(version)"
        activities:
          - name: approve
            type: manual
            assign: {users: [alice], groups: [tier2]}
            form:
              type: object
              required: [approved]
              properties: {approved: {type: boolean}}
              additionalProperties: false
          - name: record
            needs: [approve]
            run: return {version = "\(version)", approved = steps.approve.output.approved}
        """
    }

    static let ticket = """
        workflow: ticket
        trigger:
          event: ticket:created
          conditions: {priority: [high, urgent]}
          when: ${ event.tier ~= "free" }
          input:
            ticket_id: ${ event.id }
          dedupe: ${ event.id }
        activities:
          - name: handle
            run: return {ticket = input.ticket_id}
        """

    static let guarded = """
        workflow: guarded
        policies:
          circuit_breakers:
            crm: {threshold: 3, timeout: 10s, reset: 60s}
          bulkheads:
            crm: {max_concurrent: 2, max_queue_size: 10, timeout: 5s}
        activities:
          - name: call
            circuit_breaker: crm
            bulkhead: crm
            run: return {ok = true}
        """

    static var project: [String: String] {
        [
            "workflows/hello.yaml": hello, "workflows/approval.yaml": approval(version: "1"),
            "workflows/ticket.yaml": ticket, "workflows/guarded.yaml": guarded,
        ]
    }
}
