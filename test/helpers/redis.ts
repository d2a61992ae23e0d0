// redis-server from Debian, for real: started by the test on a free port with persistence off, stopped
// and started again on the same port (empty, as a Redis without persistence comes back) when a test asks.
import { Redis } from 'ioredis'
import { type RehearsalRedis, startRedis as startServer } from '../../scripts/rehearsal/redis.js'
import { refusedPort, type Teardown } from './upstreams.js'

export interface RedisServer {
  url: string
  port: number
  /** A client of its own for the test, closed when the test ends. */
  client(): Redis
  stop(): Promise<void>
  /** Starts it again on the same port, empty. */
  start(): Promise<void>
}

/** A Redis on a free port: running at once, unless `running` is false (a store down at startup). */
export async function startRedis(t: Teardown, { running = true } = {}): Promise<RedisServer> {
  const at = await refusedPort()
  let child: RehearsalRedis | undefined
  const clients: Redis[] = []
  const server: RedisServer = {
    url: `redis://127.0.0.1:${at}`,
    port: at,
    client() {
      const client = new Redis(at, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 })
      client.on('error', () => undefined)
      clients.push(client)
      return client
    },
    async start() {
      child = await startServer(at)
    },
    async stop() {
      const running = child
      child = undefined
      await running?.stop('SIGKILL')
    },
  }
  t.teardown(async () => {
    for (const client of clients) client.disconnect()
    await server.stop()
  })
  if (running) await server.start()
  return server
}
