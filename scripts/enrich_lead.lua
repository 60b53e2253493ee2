-- Enriches the lead from what it told us (a CRM lookup would go here).
local employees = input.employees or 0
local segment = "smb"
if employees >= 1000 then segment = "enterprise" elseif employees >= 100 then segment = "mid_market" end
return {segment = segment, employees = employees, company = input.company}
