// A lease in Redis: a key holding its owner, with Redis's own expiry as the lease. Taken when free or
// renewed by its owner in one step (a script), and given up only by its owner. ACME's ordering locks and
// the fleet's controller lease are both this.
import type { Redis } from 'ioredis'

/** KEYS[1] the lease, ARGV[1] the owner, ARGV[2] the lease in ms: 1 when the owner holds it now. */
export const TAKE_LEASE = `
local held = redis.call('GET', KEYS[1])
if held == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if held == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`

/** KEYS[1] the lease, ARGV[1] the owner: gone if that owner held it. */
export const GIVE_UP_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`

/** The scripts as commands on a client (store/redis-client.ts defines them). */
export const LEASE_SCRIPTS = { lease: [1, TAKE_LEASE], release: [1, GIVE_UP_LEASE] } as const

export type Leasing = Redis & {
  lease(key: string, owner: string, leaseMs: number): Promise<number>
  release(key: string, owner: string): Promise<number>
}
