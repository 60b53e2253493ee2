-- Tells the owning team about the lead.
emit("lead.assigned", {email = input.email, owner = input.owner, score = input.score})
log.info("lead routed", {owner = input.owner, score = input.score})
return {notified = input.owner}
