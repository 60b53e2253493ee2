-- Compensation of assign_agent.
log.warn("unassigning agent", {ticket = input.ticket_id, agent = input.agent_id})
workflow.assigned_agent = nil
return {unassigned = input.agent_id}
