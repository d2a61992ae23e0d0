// The fleet's Lua scripts: each one step in Redis, so a replica's answers land in exactly one interval
// and only the lease's holder judges one. A canary's keys hang off one base (`canary:<site>:<id>`):
// `:state` (the fleet's status, JSON), `:lease` (who judges), `:window` (the interval now counting),
// `:w:<n>` (its answers and failures) and `:w:<n>:h` (its latency histograms). They are built inside
// the scripts from that base, which a single Redis (what Swarm users run) allows; Redis Cluster would not.
import type { Leasing } from '../store/lease.js'

/** KEYS[1] base; ARGV answers, failures, histogram ('' for none), forget ms → [state, lease holder]. */
const PUSH = `
local base = KEYS[1]
local w = redis.call('GET', base .. ':window')
if w == false then w = '0' end
local f = base .. ':w:' .. w
if tonumber(ARGV[1]) > 0 then
  redis.call('HINCRBY', f, 'answers', ARGV[1])
  redis.call('HINCRBY', f, 'failures', ARGV[2])
  if ARGV[3] ~= '' then redis.call('RPUSH', f .. ':h', ARGV[3]) end
end
for _, key in ipairs({ base .. ':window', base .. ':state', f, f .. ':h' }) do
  redis.call('PEXPIRE', key, ARGV[4])
end
return { redis.call('GET', base .. ':state'), redis.call('GET', base .. ':lease') }`

/**
 * KEYS[1] base; ARGV owner, forget ms. The lease's holder closes the interval counting now: the next one
 * starts counting, and this one's answers, failures and histograms are returned and gone. Nil: not the
 * holder.
 */
const ROTATE = `
local base = KEYS[1]
if redis.call('GET', base .. ':lease') ~= ARGV[1] then return nil end
local w = redis.call('GET', base .. ':window')
if w == false then w = '0' end
redis.call('SET', base .. ':window', tonumber(w) + 1, 'PX', ARGV[2])
local f = base .. ':w:' .. w
local answers = redis.call('HGET', f, 'answers') or '0'
local failures = redis.call('HGET', f, 'failures') or '0'
local latencies = redis.call('LRANGE', f .. ':h', 0, -1)
redis.call('DEL', f, f .. ':h')
return { answers, failures, latencies }`

/** KEYS[1] base; ARGV owner, state JSON, forget ms. Written only by the lease's holder: 1 if written. */
const WRITE = `
local base = KEYS[1]
if redis.call('GET', base .. ':lease') ~= ARGV[1] then return 0 end
redis.call('SET', base .. ':state', ARGV[2], 'PX', ARGV[3])
redis.call('SET', base .. ':window', '0', 'NX', 'PX', ARGV[3])
return 1`

/**
 * KEYS[1] the members' index, KEYS[2] the member keys' prefix; ARGV id, record JSON, ttl ms. This member
 * is seen now (Redis's clock, so the replicas' clocks never disagree about who is alive); returns every
 * member's record seen within the ttl.
 */
const BEAT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[2] .. ARGV[1], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[1], ttl * 10)
local records = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local record = redis.call('GET', KEYS[2] .. id)
  if record then table.insert(records, record) end
end
return records`

/**
 * KEYS the client keys; ARGV rate a second, burst, expiry ms, then what this replica let through of each
 * key since its last sync. Each key is the fleet's token bucket for that client (Redis's clock): refilled
 * for the time since it was last spent from, what was let through taken off (down to one burst of debt),
 * and its tokens returned, as text (Lua would cut a fraction off a number).
 */
const SPEND = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local left = {}
for i, key in ipairs(KEYS) do
  local held = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(held[1]) or burst
  local at = tonumber(held[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000) - tonumber(ARGV[i + 3])
  tokens = math.max(-burst, tokens)
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', now)
  redis.call('PEXPIRE', key, ARGV[3])
  left[i] = tostring(tokens)
end
return left`

export const FLEET_SCRIPTS = {
  fleetPush: [1, PUSH],
  fleetRotate: [1, ROTATE],
  fleetWrite: [1, WRITE],
  fleetBeat: [2, BEAT],
  fleetSpend: [undefined, SPEND],
} as const

export type FleetRedis = Leasing & {
  fleetPush(
    base: string,
    answers: number,
    failures: number,
    latencies: string,
    forgetMs: number,
  ): Promise<[string | null, string | null]>
  fleetRotate(base: string, owner: string, forgetMs: number): Promise<[string, string, string[]] | null>
  fleetWrite(base: string, owner: string, state: string, forgetMs: number): Promise<number>
  fleetBeat(index: string, prefix: string, id: string, record: string, ttlMs: number): Promise<string[]>
  fleetSpend(keys: number, ...args: (string | number)[]): Promise<string[]>
}
