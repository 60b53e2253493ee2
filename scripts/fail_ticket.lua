-- Fallback of set_sla: a ticket without an SLA cannot be escalated, so the run fails and compensates.
fail("SlaUnavailable", "no SLA could be set for ticket " .. input.ticket_id, {cause = input.error and input.error.type})
