-- Sets the response deadline. `fail_sla` simulates the SLA service refusing the ticket.
if input.fail_sla then
  error({type = "SlaRejected", message = "SLA service rejected ticket " .. input.ticket_id, retryable = false})
end
local hours = input.priority == "urgent" and 1 or workflow.sla_hours
workflow.sla_hours = hours
return {sla_hours = hours, due = time.now()}
