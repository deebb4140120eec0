-- GCRA over every key of one request, all or nothing (tower-fortify RedisStore).
--
-- KEYS[i]  the state of cell i: its theoretical arrival time (TAT) in nanoseconds since
--          the Unix epoch (or the caller clock's origin), as decimal text.
-- ARGV[1]  "decide" (consume when every cell allows) or "peek" (never write).
-- ARGV[2], ARGV[3]  "now" as seconds and nanoseconds, or "" and "" for Redis TIME.
-- ARGV[4 + 3(i-1) ..]  per cell: emission interval, tolerance (burst * interval) and
--          weight (cost * interval), all in nanoseconds.
--
-- Returns 5 integers per cell: allowed (0/1), remaining, reset ns, retry-after ns,
-- exceeds-burst (0/1), exactly as `Gcra::step` in quota.rs computes them.
--
-- Lua numbers are doubles, exact only below 2^53 (104 days in nanoseconds), and
-- nanoseconds since 1970 are far past that. So absolute times stay split into seconds
-- and nanoseconds, and the arithmetic runs on differences from "now", which the store
-- keeps below 2^53 by refusing windows longer than 50 days.
local E9 = 1000000000

-- floor(a / b) for non-negative integers, corrected for the rounding of the division.
local function divfloor(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

local now_s, now_ns
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now_s = tonumber(t[1])
  now_ns = tonumber(t[2]) * 1000
else
  now_s = tonumber(ARGV[2])
  now_ns = tonumber(ARGV[3])
end

-- Redis expires keys on its own time. With the caller's clock that time does not follow
-- "now" (a test's frozen clock): a key expiring early would forget a debt, one kept longer
-- decides the same (a TAT not after "now" is a fresh key). So keep such keys an hour at least.
local min_px = 0
if ARGV[2] ~= '' then
  min_px = 3600000
end

local n = #KEYS
local steps = {}
local refused = false
for i = 1, n do
  local j = 4 + (i - 1) * 3
  local interval = tonumber(ARGV[j])
  local tau = tonumber(ARGV[j + 1])
  local weight = tonumber(ARGV[j + 2])
  -- base: max(TAT, now), relative to now.
  local base = 0
  local stored = redis.call('GET', KEYS[i])
  if stored then
    local s, ns
    if #stored > 9 then
      s = tonumber(string.sub(stored, 1, -10))
      ns = tonumber(string.sub(stored, -9))
    else
      s = 0
      ns = tonumber(stored)
    end
    local rel = (s - now_s) * E9 + (ns - now_ns)
    if rel > 0 then
      base = rel
    end
  end
  local before = 0
  if tau > base then
    before = divfloor(tau - base, interval)
  end
  local st = { 0, before, base, 0, 0, before, base, -1 }
  if weight > tau then
    st[4] = tau
    st[5] = 1
  else
    local new = base + weight
    if new <= tau then
      st[1] = 1
      st[2] = divfloor(tau - new, interval)
      st[3] = new
      st[8] = new
    else
      st[4] = new - tau
    end
  end
  if st[1] == 0 then
    refused = true
  end
  steps[i] = st
end

local consume = ARGV[1] == 'decide' and not refused
local out = {}
for i = 1, n do
  local st = steps[i]
  if consume then
    local new = st[8]
    if new > 0 then
      local total = now_ns + new
      local q = divfloor(total, E9)
      redis.call('SET', KEYS[i], string.format('%d%09d', now_s + q, total - q * E9),
        'PX', math.max(math.ceil(new / 1000000), min_px))
    end
    out[#out + 1] = st[1]
    out[#out + 1] = st[2]
    out[#out + 1] = st[3]
  else
    -- Nothing consumed: what is left as things are.
    out[#out + 1] = st[1]
    out[#out + 1] = st[6]
    out[#out + 1] = st[7]
  end
  out[#out + 1] = st[4]
  out[#out + 1] = st[5]
end
return out
