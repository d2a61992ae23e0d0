// The listening sockets: the kernel's backlog, SO_REUSEPORT beside other workers, and more than one socket
// on the traffic port, all feeding one server.
//
// libuv takes one connection from a listening socket each time its event loop polls it (libuv/libuv#3696,
// libuv 1.45, Node 20 and later). A burst of new connections that comes while the loop is busy with the
// connections it has therefore waits in the kernel's queue and is taken in one connection a turn: at c=256
// after a round at c=64 the last of them waited 0.3–1 s, and that was the p99. Sockets of this process bound
// beside the first one (SO_REUSEPORT) split a burst over their queues, and every turn takes one from each.
// Linux spreads connections over such sockets; other systems (macOS) give them all to one, so there one
// socket it is.
import { type EventEmitter, once } from 'node:events'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'

type AnyServer = EventEmitter & Pick<Server, 'listen' | 'close' | 'address'>

/**
 * The kernel's queue of connections not yet accepted. Node's default is 511; a burst of new clients (c=1024
 * reconnecting at once) overflows it, and a dropped SYN waits 1 s to be sent again. Linux caps it at
 * net.core.somaxconn (4096 on current kernels), as it does nginx's `backlog=`.
 */
const LISTEN_BACKLOG = 4096

/**
 * `reusePort`: this process binds a socket of its own beside others on the port (SO_REUSEPORT), and the
 * kernel spreads new connections over them, rather than a cluster primary handing each one to a worker.
 * `acceptors`: that many sockets of this process on the port (addAcceptors), so that a burst of new
 * connections is taken in that many a turn of the event loop. They bind with SO_REUSEPORT, which would
 * let a second colorproxy on the same fixed port share it without a word: alone (not a worker), the port
 * is first bound plainly, so a port in use is EADDRINUSE as ever.
 */
export async function listen(
  server: AnyServer,
  port: number,
  host: string,
  options: { reusePort?: boolean; acceptors?: number } = {},
): Promise<void> {
  const acceptors = options.acceptors ?? 1
  const shared = options.reusePort === true
  if (acceptors > 1 && !shared && port !== 0) await free(port, host)
  const reusePort = shared || acceptors > 1
  server.listen({ port, host, backlog: LISTEN_BACKLOG, ...(reusePort && { reusePort }) })
  // once() rejects if 'error' (EADDRINUSE, EACCES) comes first.
  await once(server, 'listening')
  if (acceptors <= 1) return
  const bound = { port: (server.address() as AddressInfo).port, host, backlog: LISTEN_BACKLOG }
  try {
    await addAcceptors(server as unknown as Server, bound, acceptors)
  } catch (error) {
    server.close()
    throw error
  }
}

/** Rejects (EADDRINUSE, EACCES) unless a socket without SO_REUSEPORT can bind the port now. */
async function free(port: number, host: string): Promise<void> {
  const probe = createServer()
  probe.listen({ port, host, exclusive: true })
  await once(probe, 'listening')
  await new Promise((resolve) => probe.close(resolve))
}

/**
 * Whether this Node's listen() takes `reusePort` (22.12 and 23.1 on). An older one ignores the option, and the
 * second socket on the port would fail with EADDRINUSE.
 */
export function takesReusePort(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number)
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12)
}

/** Listening sockets per traffic port: each turn of the loop accepts up to this many new connections. */
export const ACCEPTORS = process.platform === 'linux' && takesReusePort(process.versions.node) ? 16 : 1

/** The net.Server options a server applies to each connection it accepts, read back from it. */
interface Accepting extends Server {
  allowHalfOpen: boolean
  pauseOnConnect: boolean
  noDelay: boolean
  keepAlive: boolean
  /** In seconds: net.Server keeps the option's milliseconds divided by 1000. */
  keepAliveInitialDelay: number
  highWaterMark: number
}

/**
 * Binds `count - 1` more sockets to the port `server` listens on (it must have listened with reusePort).
 * What they accept is handed to `server` as its own 'connection', so the PROXY protocol and per-client
 * rules, the HTTP parser or the TLS handshake and the drain all see it; their errors are the server's.
 * Closing the server closes them too.
 */
async function addAcceptors(
  server: Server,
  listening: { port: number; host: string; backlog: number },
  count: number,
): Promise<void> {
  const main = server as Accepting
  const extras: Server[] = []
  try {
    for (let i = 1; i < count; i++) {
      const extra = createServer({
        allowHalfOpen: main.allowHalfOpen,
        pauseOnConnect: main.pauseOnConnect,
        noDelay: main.noDelay,
        keepAlive: main.keepAlive,
        keepAliveInitialDelay: main.keepAliveInitialDelay * 1000,
        highWaterMark: main.highWaterMark,
      })
      extras.push(extra)
      extra.listen({ ...listening, reusePort: true })
      await once(extra, 'listening')
      extra.on('connection', (socket: Socket) => server.emit('connection', socket))
      // An accept error (EMFILE) is the server's, as one on its own socket would be.
      extra.on('error', (server.emit as (event: string, error: Error) => boolean).bind(server, 'error'))
    }
  } catch (error) {
    for (const extra of extras) extra.close()
    throw error
  }
  const close = server.close.bind(server)
  server.close = (callback?: (error?: Error) => void) => {
    for (const extra of extras) extra.close()
    return close(callback)
  }
}
