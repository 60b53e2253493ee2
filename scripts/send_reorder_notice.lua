-- Announces the items that need reordering.
local skus = {}
for i, item in ipairs(input.low) do skus[i] = item.sku end
emit("inventory.reorder_needed", {skus = skus})
return {notified = #skus, skus = table.concat(skus, ",")}
