-- Picks an agent by tier (a real implementation would ask the CRM).
local agent = input.tier == "enterprise" and "A-100" or "A-456"
workflow.assigned_agent = agent
return {agent_id = agent}
