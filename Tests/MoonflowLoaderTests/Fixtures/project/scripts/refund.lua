return {refunded = input.payment_id}
