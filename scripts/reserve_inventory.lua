-- Reserves every line item in the warehouse.
local reserved = {}
for i, item in ipairs(input.items) do
  reserved[i] = {sku = item.sku, quantity = item.quantity}
end
local reservation_id = "RES-" .. input.order_id
workflow.reservation_id = reservation_id
return {reservation_id = reservation_id, lines = reserved}
