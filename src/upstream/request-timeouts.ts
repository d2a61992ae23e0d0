// The timeouts of a request that goes out through node:http's client (an upload, a WebSocket upgrade):
// TIMEOUT_CONNECT until its socket connects (and, for https, its handshake is done), TIMEOUT_SERVER until
// the answer's head, then TIMEOUT_SERVER_IDLE while the answer streams: the socket's own idle timer, until
// this request is done (the socket may serve another request after it). The same phases and errors as the
// own connections' (connection.ts), from errors.ts.
import type { ClientRequest } from 'node:http'
import type { Socket } from 'node:net'
import { TIMEOUT_ERRORS } from './errors.js'

export interface RequestTimeouts {
  connectMs: number
  serverMs: number
  serverIdleMs: number
}

export interface RequestGuard {
  /** The answer's head has come: TIMEOUT_SERVER is over. */
  answered(): void
  /** Its body streams: TIMEOUT_SERVER_IDLE on the socket until stop(). */
  streaming(): void
  /** The request is done (or cancelled): every timer off. */
  stop(): void
}

export function guardRequest(
  request: ClientRequest,
  timeouts: RequestTimeouts,
  secure: boolean,
): RequestGuard {
  let timer: NodeJS.Timeout | undefined
  let connection: Socket | undefined
  const idle = () => request.destroy(new TIMEOUT_ERRORS.body())
  const waitForAnswer = () => {
    clearTimeout(timer)
    timer = setTimeout(() => request.destroy(new TIMEOUT_ERRORS.head()), timeouts.serverMs)
  }
  const onSocket = (socket: Socket) => {
    connection = socket
    if (!socket.connecting) return waitForAnswer()
    timer = setTimeout(() => request.destroy(new TIMEOUT_ERRORS.connect()), timeouts.connectMs)
    socket.once(secure ? 'secureConnect' : 'connect', waitForAnswer)
  }
  if (request.socket) onSocket(request.socket as Socket)
  else request.once('socket', onSocket)
  return {
    answered: () => clearTimeout(timer),
    // The 'socket' event comes before any answer: the connection is known.
    streaming: () => (connection as Socket).setTimeout(timeouts.serverIdleMs, idle),
    stop() {
      clearTimeout(timer)
      connection?.removeListener('timeout', idle)
      connection?.setTimeout(0)
    },
  }
}
