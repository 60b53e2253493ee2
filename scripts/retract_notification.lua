-- Compensation of notify_team.
emit("team.notification_retracted", {ticket = input.ticket_id})
return {retracted = input.ticket_id}
