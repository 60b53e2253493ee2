-- Charges the order total. Declines are final (not retried); anything else may be retried.
local total = 0
for _, item in ipairs(input.items) do
  total = total + item.quantity * item.price
end
if input.decline_payment then
  error({type = "PaymentDeclined", message = "card declined for " .. input.order_id, retryable = false})
end
local payment_id = "PAY-" .. string.sub(hex.encode(hash.sha256(activity.idempotency_key)), 1, 12)
workflow.payment_id = payment_id
log.info("payment captured", {order = input.order_id, amount = total})
return {payment_id = payment_id, amount = total}
