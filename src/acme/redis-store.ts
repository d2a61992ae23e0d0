// ACME_STORE as a Redis every replica shares (ioredis): each key a string under `colorproxy:acme:`; a write is
// one SET, whole by nature; a lock is a key holding its owner with Redis's own expiry as the lease, taken
// with SET NX PX and renewed or given up only by its owner (a script, so the check and the change are one
// step). The connection is store/redis-client.ts's: a command while Redis is down fails within a
// reconnection try and the manager tries again on its next look; unreachable and back are each said once.
import type { Logger } from '../../lib/logger.js'
import type { RedisAddress } from '../config/redis-url.js'
import { LEASE_SCRIPTS, type Leasing } from '../store/lease.js'
import { openRedis, type RedisClient } from '../store/redis-client.js'
import type { AcmeStore } from './store.js'

export class RedisStore implements AcmeStore {
  private connection: RedisClient<Leasing> | undefined

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
    this.connection ??= openRedis<Leasing>(this.address, {
      prefix: this.prefix,
      logger: this.logger,
      who: 'ACME',
      meanwhile: 'serving what this process has',
      scripts: LEASE_SCRIPTS,
    })
  }

  close(): void {
    this.connection?.close()
  }

  private redis(): Promise<Leasing> {
    if (!this.connection) return Promise.reject(new Error('the Redis store is not open'))
    return this.connection.client
  }
}
