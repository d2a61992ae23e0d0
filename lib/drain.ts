// Graceful drain for an http.Server, shared by the proxy and myapp.
//
// drain(): stop accepting, close idle keep-alive sockets, answer every request still in flight (or arriving
// on an open keep-alive socket) with `Connection: close`, end upgraded tunnels, and resolve when the last
// socket is gone, or force-close everything at the timeout.
import type { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
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

/**
 * A server socket and the response it is writing now (null when idle): Node's own closeIdleConnections()
 * reads the same field.
 */
type ServerSocket = Duplex & { _httpMessage?: ServerResponse | null }

/** An http.Server, or a TLS one that serves HTTP/1.1 (node:http2's createSecureServer with allowHTTP1). */
type HttpServer = EventEmitter & { close(): unknown }

/**
 * Call before adding the server's own request handler, so drain state is set before a response starts.
 * Until the drain, the only per-request work is one boolean check: which sockets are busy is read from
 * the sockets themselves when the drain starts. A TLS server's sockets are its secure ones, and those that
 * chose HTTP/2 are left to whoever drains its sessions.
 */
export function createDrainer(server: HttpServer, options: { tls?: boolean } = {}): Drainer {
  const sockets = new Set<ServerSocket>()
  const tunnels = new Set<Duplex>()
  let draining = false
  // Assigned by the drain, before anything calls it.
  let allClosed!: () => void

  server.on(options.tls ? 'secureConnection' : 'connection', (socket: ServerSocket) => {
    if ((socket as { alpnProtocol?: string | false }).alpnProtocol === 'h2') return
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      tunnels.delete(socket)
      if (draining && sockets.size === 0) allClosed()
    })
  })
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (draining && req.httpVersionMajor !== 2) closeAfter(res)
  })

  /**
   * During the drain: the response a socket is writing says Connection: close if it still can; once it is
   * done, the next one queued behind it (pipelining) gets the same, and an idle socket is ended.
   */
  const finish = (socket: ServerSocket) => {
    const res = socket._httpMessage
    if (!res) {
      socket.end()
      return
    }
    if (!res.headersSent) closeAfter(res)
    res.once('close', () => finish(socket))
  }

  return {
    get inFlight() {
      let busy = 0
      for (const socket of sockets) if (socket._httpMessage) busy++
      return busy
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
      for (const socket of sockets) {
        if (tunnels.has(socket)) socket.end()
        else if (socket._httpMessage) finish(socket)
        else socket.destroy()
      }
      if (sockets.size === 0) allClosed()
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<DrainResult>((resolve) => {
        timer = setTimeout(() => {
          const forced = sockets.size
          for (const socket of sockets) socket.destroy()
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
