// ACME_STORE as a Redis every replica shares (ioredis): each key a string under `colorproxy:acme:`; a write is
// one SET, whole by nature; a lock is a key holding its owner with Redis's own expiry as the lease, taken
// with SET NX PX and renewed or given up only by its owner (a script, so the check and the change are one
// step). A command while Redis is down fails within a reconnection try and the manager tries again on its
// next look; the client reconnects by itself. Being unreachable is logged once, and so is coming back.
import type { Redis } from 'ioredis'
import type { Logger } from '../../lib/logger.js'
import type { RedisAddress } from '../config/redis-url.js'
import type { AcmeStore } from './store.js'

const LOCK = `
local held = redis.call('GET', KEYS[1])
if held == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if held == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`

type Scripted = Redis & {
  lease(key: string, owner: string, leaseMs: number): Promise<number>
  release(key: string, owner: string): Promise<number>
}

export class RedisStore implements AcmeStore {
  private client: Promise<Scripted> | undefined
  private reachable: boolean | undefined

  constructor(
    private readonly address: RedisAddress,
    private readonly logger: Logger,
    private readonly prefix = 'colorproxy:acme:',
  ) {}

  async read(key: string): Promise<string | undefined> {
    return (await (await this.redis()).get(key)) ?? undefined
  }

  async write(key: string, text: string): Promise<void> {
    await (await this.redis()).set(key, text)
  }

  async remove(key: string): Promise<void> {
    await (await this.redis()).del(key)
  }

  async lock(key: string, owner: string, leaseMs: number): Promise<boolean> {
    return (await (await this.redis()).lease(key, owner, leaseMs)) === 1
  }

  async unlock(key: string, owner: string): Promise<void> {
    await (await this.redis()).release(key, owner)
  }

  /** Loads ioredis (only a process with a Redis store does) and connects. */
  open(): void {
    this.client ??= import('ioredis').then(({ Redis }) => {
      const client = new Redis(this.address.url, {
        keyPrefix: this.prefix,
        lazyConnect: true,
        // A call made while connecting waits for the connection; one made while Redis is down fails after
        // one more try to reach it, well within commandTimeout.
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        commandTimeout: 2000,
        // Reconnect after 0.2 s, 0.4 s, ... at most every 5 s, for as long as it takes.
        retryStrategy: (times) => Math.min(times * 200, 5000),
      }) as Scripted
      client.defineCommand('lease', { numberOfKeys: 1, lua: LOCK })
      client.defineCommand('release', { numberOfKeys: 1, lua: UNLOCK })
      client.on('ready', () => this.said(true))
      client.on('error', (error: Error) => this.said(false, error))
      // A first connection that fails is said by the 'error' event, and the client goes on trying.
      client.connect().catch(() => undefined)
      return client
    })
  }

  close(): void {
    void this.client?.then((client) => client.disconnect())
  }

  private redis(): Promise<Scripted> {
    if (!this.client) return Promise.reject(new Error('the Redis store is not open'))
    return this.client
  }

  /** One line when the store is reached, one when it is lost: not one per failed try. */
  private said(reachable: boolean, error?: Error): void {
    if (this.reachable === reachable) return
    const first = this.reachable === undefined
    this.reachable = reachable
    const store = this.address.shown
    if (reachable) this.logger.info({ store }, `ACME: the store ${store} is ${first ? 'reached' : 'back'}`)
    else
      this.logger.warn(
        { store, err: { message: error?.message } },
        `ACME: the store ${store} is unreachable (${error?.message}); serving what this process has, trying again`,
      )
  }
}
