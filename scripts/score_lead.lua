-- Scores 0..100 from budget, size and segment.
local score = 0
if input.budget >= 50000 then score = score + 50 elseif input.budget >= 10000 then score = score + 25 end
if input.employees >= 100 then score = score + 25 end
if input.segment == "enterprise" then score = score + 25 end
return {score = math.min(score, 100)}
