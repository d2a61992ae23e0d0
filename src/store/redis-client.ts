// A Redis connection for the background work that shares one (ACME's store, the fleet): ioredis loaded only
// by a process that uses it, every key under a prefix, a command while Redis is down failing within one
// more try (never queued for ever), reconnection for as long as it takes, and being unreachable said
// once, then coming back said once: never a line per failed try.
import type { Redis } from 'ioredis'
import type { Logger } from '../../lib/logger.js'
import type { RedisAddress } from '../config/redis-url.js'

export interface RedisClientOptions {
  /** Every key's prefix, `colorproxy:acme:`. */
  prefix: string
  logger: Logger
  /** Who says it in the log: `ACME`, `fleet`. */
  who: string
  /** What this process does meanwhile, for the unreachable line: `serving what this process has`. */
  meanwhile: string
  /** Lua scripts, each defined as a command on the client: name → [number of keys, source]. */
  scripts?: Readonly<Record<string, readonly [number | undefined, string]>>
  /** Commands issued together go out as one pipeline (ioredis's auto-pipelining). */
  autoPipelining?: boolean
  /** Told each change: reached (true), lost (false). */
  changed?(reachable: boolean): void
}

export interface RedisClient<C extends Redis = Redis> {
  /** The client once ioredis has loaded; commands wait while it connects. */
  readonly client: Promise<C>
  /** Undefined until the first try has said either way. */
  reachable(): boolean | undefined
  /** Closes the connection once the commands already sent are answered (at once if it is down). */
  close(): void
}

export function openRedis<C extends Redis = Redis>(
  address: RedisAddress,
  options: RedisClientOptions,
): RedisClient<C> {
  let reachable: boolean | undefined
  const said = (now: boolean, error?: Error) => {
    if (reachable === now) return
    const first = reachable === undefined
    reachable = now
    const store = address.shown
    const { logger, who } = options
    if (now) logger.info({ store }, `${who}: the store ${store} is ${first ? 'reached' : 'back'}`)
    else
      logger.warn(
        { store, err: { message: error?.message } },
        `${who}: the store ${store} is unreachable (${error?.message}); ${options.meanwhile}, trying again`,
      )
    options.changed?.(now)
  }
  const client = import('ioredis').then(({ Redis }) => {
    const redis = new Redis(address.url, {
      keyPrefix: options.prefix,
      lazyConnect: true,
      // A call made while connecting waits for the connection; one made while Redis is down fails after
      // one more try to reach it, well within commandTimeout.
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      commandTimeout: 2000,
      // Reconnect after 0.2 s, 0.4 s, ... at most every 5 s, for as long as it takes.
      retryStrategy: (times) => Math.min(times * 200, 5000),
      enableAutoPipelining: options.autoPipelining ?? false,
    })
    for (const [name, [numberOfKeys, lua]] of Object.entries(options.scripts ?? {}))
      redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua })
    redis.on('ready', () => said(true))
    redis.on('error', (error: Error) => said(false, error))
    // A first connection that fails is said by the 'error' event, and the client goes on trying.
    redis.connect().catch(() => undefined)
    return redis as C
  })
  return {
    client,
    reachable: () => reachable,
    close: () =>
      void client.then((redis) =>
        redis.status === 'ready' ? redis.quit().catch(() => redis.disconnect()) : redis.disconnect(),
      ),
  }
}
