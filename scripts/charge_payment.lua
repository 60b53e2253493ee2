-- Charges the order total through the payments connection (moonflow.yaml). Declines are final
-- (not retried); anything else may be retried, with the same Idempotency-Key every time.
local total = 0
for _, item in ipairs(input.items) do
  total = total + item.quantity * item.price
end
if input.decline_payment then
  error({type = "PaymentDeclined", message = "card declined for " .. input.order_id, retryable = false})
end
local answer = http.request{connection = "payments", method = "POST", path = "/charges",
                            json = {order_id = input.order_id, amount = total}}
if answer.status == 402 then
  error({type = "PaymentDeclined", message = "card declined for " .. input.order_id, retryable = false})
elseif answer.status >= 300 then
  error({type = "PaymentUnavailable", message = "payments answered " .. answer.status})
end
workflow.payment_id = answer.json.id
log.info("payment captured", {order = input.order_id, amount = total, payment = answer.json.id})
return {payment_id = answer.json.id, amount = total}
