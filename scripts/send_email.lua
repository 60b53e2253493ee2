-- Sends the order confirmation through the email connection.
if not input.to then
  error({type = "InvalidRecipient", message = "no recipient address", retryable = false})
end
local subject = "Order " .. input.order_id .. " confirmed"
local answer = http.request{connection = "email", method = "POST", path = "/messages",
                            json = {to = input.to, subject = subject, total = input.total}}
if answer.status >= 300 then error({type = "EmailUnavailable", message = "email answered " .. answer.status}) end
return {sent_to = input.to, message_id = answer.json.id}
