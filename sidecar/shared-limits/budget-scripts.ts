// The server-side half of fleet-wide budgets (policy/budget.ts with a shared store): two Lua scripts,
// each run atomically by Redis, over one hash per spending total (an agent's day, a session):
//
//   spent       nano-USD settled so far (an integer: sums of many small costs stay exact)
//   r:<call>    "<nano-USD> <expiry ms>": a call in flight's worst-case cost, its reservation
//
//   reserve  KEYS: the totals the call counts against. ARGV: call id, worst-case nano-USD,
//            reservation TTL ms, then per key: cap nano-USD, key TTL ms.
//            The same rule as the local check (budget.ts): a total refuses when spent >= cap, or
//            when spent + reservations + this call's worst case > cap, unless the total is empty
//            (nothing spent, nothing in flight). When every total accepts, writes the reservation
//            into each and answers {1, 0, spent1, reserved1, spent2, reserved2...}; else changes
//            nothing and answers {0, index of the refusing key, spent1, reserved1...}.
//            Expired reservations (a sidecar that died mid-call) are deleted as they are met.
//   settle   KEYS: the totals the reservation was written to, then the totals to charge.
//            ARGV: call id, number of reservation keys, nano-USD to charge, then per charge key:
//            its TTL ms. Deletes the reservation, adds the cost, answers the new spent of each
//            charged key. With nothing to charge it is the release of a refused call.
//
// Time is the Redis server's (TIME), so replicas with skewed clocks agree on what has expired. Every
// write refreshes the key's TTL: an agent's day key lives two days, a session's key as long as the
// session may be idle, so keys never pile up.
export const BUDGET_RESERVE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local call = ARGV[1]
local worst = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local totals = {}
for i, key in ipairs(KEYS) do
  local cap = tonumber(ARGV[2 + 2 * i])
  local spent, reserved = 0, 0
  local fields = redis.call('HGETALL', key)
  for j = 1, #fields, 2 do
    local name, value = fields[j], fields[j + 1]
    if name == 'spent' then
      spent = tonumber(value)
    elseif string.sub(name, 1, 2) == 'r:' and name ~= 'r:' .. call then
      local usd, expires = string.match(value, '^(%d+) (%d+)$')
      if usd and tonumber(expires) > now then reserved = reserved + tonumber(usd)
      else redis.call('HDEL', key, name) end
    end
  end
  totals[#totals + 1] = spent
  totals[#totals + 1] = reserved
  local empty = spent == 0 and reserved == 0
  if spent >= cap or (not empty and spent + reserved + worst > cap) then
    local answer = {0, i}
    for _, v in ipairs(totals) do answer[#answer + 1] = v end
    return answer
  end
end
local answer = {1, 0}
for i, key in ipairs(KEYS) do
  if worst > 0 then redis.call('HSET', key, 'r:' .. call, string.format('%d %d', worst, now + ttl)) end
  redis.call('PEXPIRE', key, tonumber(ARGV[3 + 2 * i]))
end
for _, v in ipairs(totals) do answer[#answer + 1] = v end
return answer
`;

export const BUDGET_SETTLE_SCRIPT = `
local call = ARGV[1]
local reserved = tonumber(ARGV[2])
local usd = tonumber(ARGV[3])
for i = 1, reserved do redis.call('HDEL', KEYS[i], 'r:' .. call) end
local answer = {}
for i = reserved + 1, #KEYS do
  local spent = redis.call('HINCRBY', KEYS[i], 'spent', usd)
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[3 + i - reserved]))
  answer[#answer + 1] = spent
end
return answer
`;
