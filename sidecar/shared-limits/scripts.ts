// The server-side half of fleet-wide rate limits: two Lua scripts, each run atomically by Redis,
// over the same token buckets as policy/rate-limit.ts keeps in memory (one bucket = a hash with
// `level` and `at`; full capacity = one minute's limit; refill capacity/60 s; never below -capacity).
// A token bucket refilling continuously is the GCRA: exact, two numbers per bucket, no log of calls.
//
//   reserve  KEYS: requests bucket, tokens bucket. ARGV: rpm (-1: none), tpm (-1: none), tokens.
//            When 1 request and min(tokens, tpm) fit both buckets, takes 1 request and `tokens`
//            and answers {1, 0}; else changes nothing and answers {0, ms until it would fit}.
//   adjust   KEYS: a bucket. ARGV: capacity, delta. Moves the level by delta (a refund > 0, a charge
//            < 0): settle's difference between the estimate and the real usage, or a release.
//
// Time is the Redis server's (TIME), so replicas with skewed clocks see one clock. Every write sets
// a TTL of two minutes (the time a bucket at -capacity needs to refill): an absent bucket is a full
// one, so an expired key loses nothing and keys never pile up.
export const BUCKET_TTL_MS = 121_000;

const COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function level_of(key, capacity, now)
  local v = redis.call('HMGET', key, 'level', 'at')
  if not v[1] then return capacity end
  local level = tonumber(v[1]) + (math.max(0, now - tonumber(v[2])) / 60000) * capacity
  if level > capacity then return capacity end
  return level
end
local function store(key, capacity, level, now)
  if level > capacity then level = capacity end
  if level < -capacity then level = -capacity end
  redis.call('HSET', key, 'level', tostring(level), 'at', now)
  redis.call('PEXPIRE', key, ${BUCKET_TTL_MS})
end
`;

export const RESERVE_SCRIPT = `${COMMON}
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local now = now_ms()
local wait = 0
local rlevel, tlevel
if rpm > 0 then
  rlevel = level_of(KEYS[1], rpm, now)
  if rlevel < 1 then wait = math.max(wait, (1 - rlevel) / rpm * 60000) end
end
if tpm > 0 and tokens > 0 then
  tlevel = level_of(KEYS[2], tpm, now)
  local want = math.min(tokens, tpm)
  if tlevel < want then wait = math.max(wait, (want - tlevel) / tpm * 60000) end
end
if wait > 0 then return {0, math.ceil(wait)} end
if rpm > 0 then store(KEYS[1], rpm, rlevel - 1, now) end
if tpm > 0 and tokens > 0 then store(KEYS[2], tpm, tlevel - tokens, now) end
return {1, 0}
`;

export const ADJUST_SCRIPT = `${COMMON}
local capacity = tonumber(ARGV[1])
local delta = tonumber(ARGV[2])
local now = now_ms()
store(KEYS[1], capacity, level_of(KEYS[1], capacity, now) + delta, now)
return 1
`;
