-- Rejects leads that cannot be contacted. Not retried: the input will not improve.
local email = input.email or ""
if not string.find(email, "^[^@%s]+@[^@%s]+%.[^@%s]+$") then
  error({type = "InvalidLead", message = "not an email address: " .. email, retryable = false})
end
return {email = string.lower(email)}
