-- Enriches the lead with the CRM's company record (the workflow falls back to what the lead
-- told us, segment unknown, when the CRM cannot answer).
local answer = http.request{connection = "crm", path = "/companies", query = {name = input.company or ""}}
if answer.status >= 300 then error({type = "CrmUnavailable", message = "crm answered " .. answer.status}) end
local employees = answer.json.employees or input.employees or 0
local segment = "smb"
if employees >= 1000 then segment = "enterprise" elseif employees >= 100 then segment = "mid_market" end
return {segment = segment, employees = employees, company = input.company, industry = answer.json.industry}
