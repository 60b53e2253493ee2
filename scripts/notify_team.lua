-- Tells the on-call team about the ticket through its webhook.
local text = "Ticket " .. input.ticket_id .. " (" .. input.priority .. ") needs an agent"
local answer = http.request{connection = "team_webhook", method = "POST", json = {text = text}}
if answer.status >= 300 then error({type = "WebhookFailed", message = "team webhook answered " .. answer.status}) end
emit("team.notified", {ticket = input.ticket_id, priority = input.priority})
return {notified = "tier2", ticket_id = input.ticket_id}
