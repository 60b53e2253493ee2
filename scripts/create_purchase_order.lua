-- Issues one purchase order covering every low item.
local lines = {}
for i, item in ipairs(input.low) do lines[i] = {sku = item.sku, quantity = item.quantity} end
return {po_number = "PO-" .. string.sub(uuid(), 1, 8), lines = lines, created_at = time.now()}
