-- One rate limit decision, atomically, with time taken from the server.
--
-- KEYS[1]  the state of one key
-- ARGV[1]  0 for a smoothing rate (GCRA), 1 for a calendar quota
-- ARGV[2]  units to spend; 0 peeks
-- ARGV[3]  the time in microseconds, or "" to read it from TIME (production)
-- GCRA:    ARGV[4] emission interval and ARGV[5] tolerance (interval * burst), microseconds
-- quota:   ARGV[4] quota, ARGV[5..8] the starts of the previous, current, next and following
--          periods as the caller sees them, microseconds
--
-- Returns {allowed (0/1), remaining, reset after, retry after}, durations in microseconds.
-- Microseconds since the epoch fit exactly in Lua's double precision numbers.

if redis.replicate_commands then redis.replicate_commands() end

local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[3])
end
local n = tonumber(ARGV[2])

if ARGV[1] == '0' then
  local t = tonumber(ARGV[4])
  local tau = tonumber(ARGV[5])
  local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
  if tat < now then tat = now end
  local remaining = math.floor((now + tau - tat) / t)
  if n == 0 then
    if remaining >= 1 then return {1, remaining, tat - now, 0} end
    return {0, remaining, tat - now, tat + t - tau - now}
  end
  if n * t > tau then
    return {0, remaining, tat - now, tat - now}
  end
  local nxt = tat + n * t
  if nxt - tau > now then
    return {0, remaining, tat - now, nxt - tau - now}
  end
  redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
  return {1, math.floor((now + tau - nxt) / t), nxt - now, 0}
end

local quota = tonumber(ARGV[4])
-- The caller's clock chose the periods; the server's clock picks among them, so replicas
-- with skewed clocks still agree on when a period ends.
local start, stop = tonumber(ARGV[6]), tonumber(ARGV[7])
if now < start then
  start, stop = tonumber(ARGV[5]), start
elseif now >= stop then
  start, stop = stop, tonumber(ARGV[8])
end
local state = redis.call('HMGET', KEYS[1], 'p', 'u')
local used = 0
if state[1] and tonumber(state[1]) == start then used = tonumber(state[2]) end
local remaining = quota - used
if n == 0 then
  if remaining >= 1 then return {1, remaining, stop - now, 0} end
  return {0, remaining, stop - now, stop - now}
end
if n > remaining then
  return {0, remaining, stop - now, stop - now}
end
used = used + n
redis.call('HSET', KEYS[1], 'p', string.format('%d', start), 'u', used)
redis.call('PEXPIRE', KEYS[1], math.ceil((stop - now) / 1000) + 1000)
return {1, quota - used, stop - now, 0}
