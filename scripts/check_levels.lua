-- Lists every SKU at or below its reorder threshold.
local low = {}
for _, item in ipairs(input.stock) do
  if item.on_hand <= item.threshold then
    low[#low + 1] = {
      sku = item.sku,
      on_hand = item.on_hand,
      quantity = item.reorder_quantity or (item.threshold * 2 - item.on_hand),
    }
  end
end
workflow.low_items = low
return {low = low, checked = #input.stock}
