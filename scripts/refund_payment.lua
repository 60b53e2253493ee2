-- Compensation of charge_payment: refunds exactly what was captured.
log.warn("refunding payment", {payment = input.payment_id, amount = input.amount})
local answer = http.request{connection = "payments", method = "POST", path = "/refunds",
                            json = {payment_id = input.payment_id, amount = input.amount}}
if answer.status >= 300 then error({type = "RefundFailed", message = "payments answered " .. answer.status}) end
workflow.payment_id = nil
return {refunded = input.payment_id, amount = input.amount, refund_id = answer.json.id}
