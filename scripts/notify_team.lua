-- Tells the on-call team about the ticket.
emit("team.notified", {ticket = input.ticket_id, priority = input.priority})
return {notified = "tier2", ticket_id = input.ticket_id}
