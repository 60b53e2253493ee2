-- Creates a shipping label for the reserved items.
local tracking = "TRK-" .. string.upper(string.sub(hex.encode(hash.sha256(input.order_id)), 1, 10))
return {tracking_number = tracking, carrier = "moonpost"}
