// The traffic listener: node:http with colorproxy's timeouts, each request through the checks every request
// passes (admission.ts) to the gate, pipelining's rules, upgrades, CONNECT and Node's parse errors. What
// happens to an admitted request is the app's (forward/http.ts, forward/websocket.ts); draining is
// lib/drain.ts's.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Http2SecureServer } from 'node:http2'
import type https from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createDrainer, type Drainer } from '../../lib/drain.js'
import { http, isHttp2Request } from '../../lib/node-http.js'
import type { Config as FullConfig } from '../config/load.js'
import { createAdmission } from './admission.js'
import { createGate, type Passage, type Traffic } from './gate.js'
import { ACME_CHALLENGE_PATH, answerHttpChallenge } from './http-challenge.js'
import { serveHttp2, serveStreams } from './http2.js'
import { trackSessions } from './http2-sessions.js'
import { refuse, type Admitted } from '../forward/exchange.js'
import { writeRawAnswer } from '../forward/failures.js'
import { answerMalformed, malformedBody } from './malformed-body.js'
import { isMalformed } from '../forward/malformed.js'
import { serialize, whenIdle } from './pipeline.js'
import { answerAsPlainRequest, isWebSocket } from './plain-upgrade.js'

export type { Traffic }

/** node:http, node:https, or node:http2's secure server (HTTP/1.1 requests on it are node:http's). */
type AnyServer = Server | https.Server | Http2SecureServer

export interface TrafficServer<S extends AnyServer = AnyServer> {
  server: S
  drainer: Drainer
}

type Config = Pick<
  FullConfig,
  'timeouts' | 'trustedProxies' | 'clients' | 'httpsRedirect' | 'authRealm' | 'hstsSeconds'
>

/** The plain listener (PORT). */
export function createTrafficServer(config: Config, app: Traffic): TrafficServer<Server> {
  const server = http.createServer()
  const drainer = createDrainer(server)
  serveHttp1(server, config, app, {
    proto: 'http',
    // Documented: emitting 'connection' hands a socket to the server's HTTP parser.
    reparse: (socket) => server.emit('connection', socket),
    trackTunnel: (socket) => drainer.trackTunnel(socket),
  })
  return { server, drainer }
}

/**
 * The TLS listener (HTTPS_PORT) around a server from tls-listener.ts: HTTP/1.1 exactly as on the plain
 * port, and HTTP/2 streams (http2.ts) into the same gate, router and forwarder: a bodiless one on the
 * stream API, the others through node:http2's compatibility layer.
 */
export function createSecureTrafficServer(
  config: Config,
  app: Traffic,
  server: Http2SecureServer | https.Server,
  http2: boolean,
): TrafficServer {
  // Before any 'request' listener: the first one adds node:http2's compatibility handler (http2.ts).
  const streams = server.listeners('stream')
  const http1 = createDrainer(server, { tls: true })
  // Node's own HTTP/1.1 connection handler, which node:http2 also hands an `http/1.1` socket to.
  const listener = (http as unknown as { _connectionListener: (socket: Duplex) => void })._connectionListener
  const reparse = (socket: Duplex) => listener.call(server, socket)
  const h2 = http2 ? trackSessions(server as Http2SecureServer, config.timeouts.keepAliveMs) : undefined
  const http2Request = h2 && serveHttp2(config, app)
  const pass = serveHttp1(server as Server, config, app, {
    proto: 'https',
    reparse,
    trackTunnel: http1.trackTunnel,
    http2: http2Request,
  })
  if (http2Request)
    serveStreams(server as Http2SecureServer, streams, (req, res) => http2Request(req, res, pass))
  // WebSockets are HTTP/1.1 only: their tunnels are the HTTP/1.1 drainer's.
  const drainer: Drainer = {
    trackTunnel: http1.trackTunnel,
    get inFlight() {
      return http1.inFlight + (h2?.open ?? 0)
    },
    async drain(timeoutMs) {
      const [one, two] = await Promise.all([http1.drain(timeoutMs), h2?.drain(timeoutMs)])
      return { forced: one.forced + (two?.forced ?? 0) }
    },
  }
  return { server, drainer }
}

/** A request colorproxy admitted: past the gate (redirect, site, auth), then to its color. */
type Pass = (req: IncomingMessage, res: ServerResponse, admitted: Admitted) => void

function passer(config: Config, app: Traffic, proto: 'http' | 'https'): Pass {
  const gate = createGate(config, proto, app)
  const hsts =
    proto === 'https' && config.hstsSeconds !== undefined ? `max-age=${config.hstsSeconds}` : undefined
  const forward = (req: IncomingMessage, res: ServerResponse, client: string, passage: Passage) => {
    // Its body broke while it waited (its turn on a pipelined connection, or the password check).
    if (isMalformed(req)) return res.headersSent || answerMalformed(res)
    if ('status' in passage) return refuse(passage.options, req, res, { ...passage, client })
    const { site, admitted } = passage
    site.http(req, res, admitted, site.router.decide(req, client))
  }
  const pass = (req: IncomingMessage, res: ServerResponse, admitted: Admitted) => {
    if (hsts) res.setHeader('strict-transport-security', hsts)
    const { client } = admitted.forwarded
    const passage = gate(req, admitted)
    if (passage instanceof Promise) passage.then((passed) => forward(req, res, client, passed))
    else forward(req, res, client, passage)
  }
  const challenge = proto === 'http' ? app.httpChallenge : undefined
  if (!challenge) return pass
  return (req, res, admitted) => {
    if (!admitted.path.startsWith(ACME_CHALLENGE_PATH)) return pass(req, res, admitted)
    answerHttpChallenge(req, res, admitted.path, challenge, () => pass(req, res, admitted))
  }
}

interface Listener {
  proto: 'http' | 'https'
  /** Hands a socket back to Node's HTTP/1.1 parser (an Upgrade answered as a plain request). */
  reparse(socket: Duplex): void
  /** A WebSocket tunnel the drain must end. */
  trackTunnel(socket: Duplex): void
  /** The TLS listener's HTTP/2 requests. */
  http2?: (req: IncomingMessage, res: ServerResponse, pass: Pass) => void
}

/**
 * HTTP/1.x on either listener: timeouts, admission, pipelining, upgrades, CONNECT and parse errors. Returns
 * what passes an admitted request on, for the HTTP/2 streams that do not come as a 'request'.
 */
function serveHttp1(server: Server, config: Config, app: Traffic, listener: Listener): Pass {
  const { proto, http2 } = listener
  // TIMEOUT_CLIENT bounds the whole request (headers and body): 408 and close. Node checks every
  // connectionsCheckingInterval, so keep that well under the timeout.
  Object.assign(server, {
    requestTimeout: config.timeouts.clientMs,
    headersTimeout: config.timeouts.clientMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(50, config.timeouts.clientMs / 4)),
    keepAliveTimeout: config.timeouts.keepAliveMs,
    // Node would drop header fields past its default 2000 array slots silently: colorproxy counts them.
    maxHeadersCount: 0,
  })
  const admit = createAdmission(config, proto)
  const pass = passer(config, app, proto)
  const gate = createGate(config, proto, app)

  // RFC 9112 section 9.3: a request that says close is the last on its connection. Node parses pipelined
  // requests behind it all the same; none of them is forwarded.
  const closing = new WeakSet<Duplex>()
  // Admitted requests are forwarded one after another (pipeline.ts), each once the one before is answered;
  // Node writes the answers in the order the requests came, refusals included.
  const serve = serialize(pass)
  server.on('request', (req, res) => {
    if (http2 && isHttp2Request(req)) return http2(req, res, pass)
    if (closing.has(req.socket)) return
    if (!res.shouldKeepAlive) closing.add(req.socket)
    const admitted = admit(req)
    if ('status' in admitted) {
      closing.add(req.socket)
      refuse(app.forwardOptions, req, res, admitted)
      return
    }
    serve(req, res, admitted)
  })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!isWebSocket(req)) return answerAsPlainRequest(req, socket, head, listener.reparse)
    whenIdle(socket, () => upgradeWebSocket(req, socket, head))
  })
  const upgradeWebSocket = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const admitted = admit(req)
    if ('status' in admitted) return writeRawAnswer(socket, admitted.status, admitted.text)
    const upgrade = (passage: Passage) => {
      if ('status' in passage)
        return writeRawAnswer(socket, passage.status, passage.text, rawFields(passage.headers))
      listener.trackTunnel(socket)
      const { site } = passage
      site.ws(req, socket, head, passage.admitted, site.router.decide(req, admitted.forwarded.client))
    }
    const passage = gate(req, admitted)
    if (passage instanceof Promise) passage.then(upgrade)
    else upgrade(passage)
  }
  // colorproxy is a reverse proxy: CONNECT gets a 405 that says so (RFC 9110 section 15.5.6), not a reset.
  // node:http2 hands an HTTP/2 CONNECT here too, with a response in place of a socket: http2.ts answers it.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    if (http2 && isHttp2Request(req)) return http2(req, socket as unknown as ServerResponse, pass)
    socket.on('error', () => {})
    writeRawAnswer(socket, 405, 'CONNECT is not supported: colorproxy is not a forward proxy', ALLOW)
  })
  server.on('clientError', answerClientError)
  return pass
}

/** `{ location: 'https://…' }` → `location: https://…\r\n`, for an answer written on a raw socket. */
function rawFields(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
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
  if (error.code !== 'ECONNRESET' && malformedBody(socket, error)) return
  if (error.code === 'HPE_CLOSED_CONNECTION') {
    socket.pause()
    return
  }
  const [status, text] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'the request is malformed']
  const busy = (socket as Socket).bytesWritten > 0 || (socket as { _httpMessage?: unknown })._httpMessage
  if (error.code !== 'ECONNRESET' && !busy) writeRawAnswer(socket, status, text)
  else socket.destroy()
}
