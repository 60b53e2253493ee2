-- Compensation of reserve_inventory.
log.warn("releasing reservation", {reservation = input.reservation_id})
workflow.reservation_id = nil
return {released = input.reservation_id}
