-- Creates a shipping label for the reserved items with the carrier connection.
local answer = http.request{connection = "carrier", method = "POST", path = "/labels",
                            json = {order_id = input.order_id, reservation_id = input.reservation_id}}
if answer.status >= 300 then error({type = "CarrierDown", message = "carrier answered " .. answer.status}) end
return {tracking_number = answer.json.tracking_number, carrier = answer.json.carrier}
