// Graceful drain for an http.Server, shared by the proxy and myapp.
//
// drain(): stop accepting, close idle keep-alive sockets, answer every request still in flight (or arriving
// on an open keep-alive socket) with `Connection: close`, end upgraded tunnels, and resolve when the last
// socket is gone, or force-close everything at the timeout.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from './logger.js'

export interface DrainResult {
  /** Sockets still open at the timeout and destroyed. 0 means nothing was cut off. */
  forced: number
}

export interface Drainer {
  /** Marks a socket as an upgraded tunnel: ended when the drain starts. */
  trackTunnel(socket: Duplex): void
  drain(timeoutMs: number): Promise<DrainResult>
  /** Requests in flight now. */
  readonly inFlight: number
}

/**
 * The shape of a graceful stop, shared by one process and a cluster primary. The first call runs `begin`
 * (readyz turns 503) and says so, keeps serving for delayMs while the orchestrator stops routing here, then
 * runs `drain`. A second call (a second signal) skips whatever is left of the delay and returns the same
 * promise.
 */
export function gracefulStop<T>(
  say: { logger: Logger; timeoutMs: number },
  begin: () => void,
  drain: () => Promise<T>,
): (options: { delayMs: number }) => Promise<T> {
  let stopping: Promise<T> | undefined
  // Assigned by the delay's executor, which runs at once.
  let skip!: () => void
  return ({ delayMs }) => {
    if (stopping) {
      skip()
      return stopping
    }
    begin()
    say.logger.info({ delay_ms: delayMs, timeout_ms: say.timeoutMs }, 'shutting down: readyz now 503')
    const delay = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delayMs)
      skip = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    stopping = delay.then(drain)
    return stopping
  }
}

/** Call before adding the server's own request handler, so drain state is set before a response starts. */
export function createDrainer(server: Server): Drainer {
  // Every open socket and how many requests it is serving.
  const sockets = new Map<Duplex, number>()
  const responses = new Set<ServerResponse>()
  const tunnels = new Set<Duplex>()
  let draining = false
  let allClosed: (() => void) | undefined

  const checkDone = () => {
    if (draining && sockets.size === 0) allClosed?.()
  }
  server.on('connection', (socket: Duplex) => {
    sockets.set(socket, 0)
    socket.once('close', () => {
      sockets.delete(socket)
      tunnels.delete(socket)
      checkDone()
    })
  })
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket
    // 'connection' always comes first, so the socket is known.
    sockets.set(socket, (sockets.get(socket) as number) + 1)
    responses.add(res)
    if (draining) closeAfter(res)
    res.once('close', () => {
      responses.delete(res)
      const left = (sockets.get(socket) ?? 1) - 1
      if (sockets.has(socket)) sockets.set(socket, left)
      // A response that started with keep-alive before the drain: its socket goes once it is idle.
      if (draining && left === 0) socket.end()
    })
  })

  return {
    get inFlight() {
      return responses.size
    },
    trackTunnel(socket) {
      tunnels.add(socket)
      if (draining) socket.end()
    },
    drain(timeoutMs) {
      draining = true
      const done = new Promise<void>((resolve) => {
        allClosed = resolve
      })
      server.close()
      for (const res of responses) {
        // Not yet answered: the answer will say Connection: close. Already streaming: closed when done.
        if (!res.headersSent) closeAfter(res)
      }
      for (const [socket, active] of sockets) {
        if (active === 0 && !tunnels.has(socket)) socket.destroy()
      }
      for (const socket of tunnels) socket.end()
      checkDone()
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<DrainResult>((resolve) => {
        timer = setTimeout(() => {
          const forced = sockets.size
          for (const socket of sockets.keys()) socket.destroy()
          resolve({ forced })
        }, timeoutMs)
      })
      return Promise.race([done.then(() => ({ forced: 0 })), timeout]).finally(() => clearTimeout(timer))
    },
  }
}

/**
 * The answer says Connection: close and Node closes the socket after it. Both are needed: a handler that
 * already set `Connection: keep-alive` (a pipelined request whose upstream answered before the drain,
 * queued behind the one before it) would otherwise win over shouldKeepAlive.
 */
function closeAfter(res: ServerResponse): void {
  res.shouldKeepAlive = false
  res.setHeader('connection', 'close')
}
