-- Sends a confirmation email (recorded as an event; an email integration would consume it).
if not input.to then
  error({type = "InvalidRecipient", message = "no recipient address", retryable = false})
end
emit("email.requested", {to = input.to, subject = "Order " .. input.order_id .. " confirmed", total = input.total})
return {sent_to = input.to}
