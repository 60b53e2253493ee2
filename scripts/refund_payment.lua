-- Compensation of charge_payment: refunds exactly what was captured.
log.warn("refunding payment", {payment = input.payment_id, amount = input.amount})
workflow.payment_id = nil
return {refunded = input.payment_id, amount = input.amount}
