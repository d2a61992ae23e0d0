// The traffic listener: node:http with colorproxy's timeouts, the checks every request passes before a
// color is chosen (admit), pipelining's rules, upgrades, CONNECT and Node's parse errors. What happens to an
// admitted request is the app's (forward-http.ts, forward-ws.ts); draining is lib/drain.ts's.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createDrainer, type Drainer } from '../lib/drain.js'
import type { Config } from './config.js'
import { refuse, type Admitted, type ForwardOptions, type Route } from './exchange.js'
import { writeRawAnswer } from './failures.js'
import type { HttpForwarder } from './forward-http.js'
import type { WsForwarder } from './forward-ws.js'
import { createForwarding, type Forwarding } from './forwarding.js'
import { MAX_HEADER_FIELDS } from './headers.js'
import { answerAsPlainRequest, isWebSocket } from './plain-upgrade.js'
import { requestTarget } from './request-target.js'
import type { Router } from './router.js'

/** Where admitted traffic goes (the app, built by app.ts). */
export interface Traffic {
  router: Pick<Router<Route & { weight: number }>, 'decide'>
  http: HttpForwarder
  ws: WsForwarder
  /** Refusals are logged and counted like every other request. */
  forwardOptions: ForwardOptions
}

export interface TrafficServer {
  server: Server
  drainer: Drainer
}

export function createTrafficServer(config: Config, app: Traffic): TrafficServer {
  const server = createServer({
    // TIMEOUT_CLIENT bounds the whole request (headers and body): 408 and close. Node checks every
    // connectionsCheckingInterval, so keep that well under the timeout.
    requestTimeout: config.timeouts.clientMs,
    headersTimeout: config.timeouts.clientMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(50, config.timeouts.clientMs / 4)),
    keepAliveTimeout: config.timeouts.keepAliveMs,
  })
  // Node would drop header fields past its default 2000 array slots silently: colorproxy counts them itself.
  server.maxHeadersCount = 0
  const drainer = createDrainer(server)
  const forwarding = createForwarding(config.trustedProxies)
  const admit = (req: IncomingMessage) => admission(req, forwarding)

  // RFC 9112 section 9.3: a request that says close is the last on its connection. Node parses pipelined
  // requests behind it all the same; none of them is forwarded.
  const closing = new WeakSet<Duplex>()
  server.on('request', (req, res) => {
    if (closing.has(req.socket)) return
    if (!res.shouldKeepAlive) closing.add(req.socket)
    const admitted = admit(req)
    if ('status' in admitted) {
      closing.add(req.socket)
      refuse(app.forwardOptions, req, res, { ...admitted, client: forwarding(req, 'http').client })
      return
    }
    app.http(req, res, admitted, app.router.decide(req, admitted.forwarded.client))
  })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!isWebSocket(req)) return answerAsPlainRequest(server, req, socket, head)
    const admitted = admit(req)
    if ('status' in admitted) return writeRawAnswer(socket, admitted.status, admitted.text)
    drainer.trackTunnel(socket)
    app.ws(req, socket, head, admitted, app.router.decide(req, admitted.forwarded.client))
  })
  // colorproxy is a reverse proxy: CONNECT gets a 405 that says so (RFC 9110 section 15.5.6), not a reset.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => {})
    writeRawAnswer(socket, 405, 'CONNECT is not supported: colorproxy is not a forward proxy', ALLOW)
  })
  server.on('clientError', answerClientError)
  return { server, drainer }
}

/** The checks every request passes before any color is chosen; a refusal is never a color's error. */
function admission(
  req: IncomingMessage,
  forwarding: Forwarding,
): Admitted | { status: number; text: string } {
  if (req.rawHeaders.length > MAX_HEADER_FIELDS * 2) {
    return { status: 431, text: `the request has more than ${MAX_HEADER_FIELDS} header fields` }
  }
  const target = requestTarget(req.httpVersionMajor, req.url as string, req.rawHeaders)
  if (!target.ok) return target
  return { path: target.path, forwarded: forwarding(req, 'http') }
}

const ALLOW = 'Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n'

/** Node's parse errors as statuses; anything else is a 400 (Node's own default). */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'the request headers are larger than 16 KB'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request did not arrive within TIMEOUT_CLIENT'],
  HPE_INVALID_VERSION: [505, 'this port speaks HTTP/1.0 and HTTP/1.1'],
  // An HTTP/2 connection preface (PRI * HTTP/2.0) on the plain port.
  HPE_PAUSED_H2_UPGRADE: [505, 'this port speaks HTTP/1.0 and HTTP/1.1'],
}

/**
 * A request Node could not parse: one plain-text answer and the connection closes, as Node's default
 * handler does, but with the right status (505 for a version it does not speak) and a line saying why.
 * Nothing is written once an answer has begun or is pending on the socket (pipelining): it would jump
 * ahead of it. Bytes after a request that said `Connection: close` are not an error: they are ignored,
 * and the answers already under way finish before Node closes the connection.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'HPE_CLOSED_CONNECTION') {
    socket.pause()
    return
  }
  const [status, text] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'the request is malformed']
  const busy = (socket as Socket).bytesWritten > 0 || (socket as { _httpMessage?: unknown })._httpMessage
  if (error.code !== 'ECONNRESET' && !busy) writeRawAnswer(socket, status, text)
  else socket.destroy()
}

export async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host)
  // once() rejects if 'error' (EADDRINUSE, EACCES) comes first.
  await once(server, 'listening')
}
