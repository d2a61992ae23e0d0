// Forwards one request to a color's upstream with undici (Pool.stream), and a WebSocket upgrade with
// http-proxy-3. undici was chosen by measurement (npm run bench, README "Performance"): on this machine a
// bare undici proxy forwards about twice what a bare http-proxy-3 one does.
//
// Every call has an error path, and one table maps failures to statuses, so one bad upstream or client
// never ends the process.
import { randomUUID } from 'node:crypto'
import {
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http'
import type { Socket } from 'node:net'
import { type Duplex, Readable } from 'node:stream'
import { createProxyServer } from 'http-proxy-3'
import type { Dispatcher } from 'undici'
import type { Logger } from './logger.js'
import type { Decision, RouteReason } from './router.js'
import type { Upstream } from './upstream.js'

export interface ProxyOptions {
  colorHeader: string
  preserveHost: boolean
  connectTimeoutMs: number
  serverTimeoutMs: number
  tunnelTimeoutMs: number
  logger: Logger
  now?: () => number
  /**
   * FAILOVER: another color for a request whose upstream could not be reached (undefined: none, or
   * failover is off).
   */
  failover?: (from: string) => Route | undefined
  /** STICKY=cookie: the Set-Cookie value that keeps a client on this color. */
  stickyCookie?: (color: string) => string
  events?: ProxyEvents
}

/** What the rest of colorproxy learns from forwarding: ejection, metrics and the stats page. */
export interface ProxyEvents {
  /** An attempt failed before any answer; `reason` is a connect failure when the upstream was never reached. */
  upstreamFailed?(color: string, reason: FailureReason): void
  /** An upstream sent response headers. */
  upstreamAnswered?(color: string): void
  failedOver?(from: string, to: string): void
  started?(): void
  /** A request is over (answered, failed, or abandoned by its client). */
  done?(record: RequestRecord): void
}

export interface RequestRecord {
  /** The color that served it last; null for a 503. */
  color: string | null
  status: number
  durationMs: number
  via: RouteReason
  failure: FailureReason | undefined
}

export interface Route {
  name: string
  upstream: Upstream
}

export interface Proxy {
  web(req: IncomingMessage, res: ServerResponse, decision: Decision<Route>): void
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, decision: Decision<Route>): void
}

export type FailureReason =
  | 'refused'
  | 'reset'
  | 'dns'
  | 'unreachable'
  | 'connect_timeout'
  | 'server_timeout'
  | 'tls'
  | 'no_color'
  | 'client_gone'
  | 'error'

/** The one table: failure → status and the one line the client reads. */
export const FAILURES: Record<FailureReason, { status: number; text: string }> = {
  refused: { status: 502, text: 'the upstream refused the connection' },
  reset: { status: 502, text: 'the upstream closed the connection before answering' },
  dns: { status: 502, text: 'the upstream host name does not resolve' },
  unreachable: { status: 502, text: 'the upstream host is unreachable' },
  tls: { status: 502, text: 'the TLS handshake with the upstream failed' },
  error: { status: 502, text: 'the upstream request failed' },
  connect_timeout: { status: 504, text: 'the upstream did not accept the connection in time' },
  server_timeout: { status: 504, text: 'the upstream did not answer in time' },
  no_color: { status: 503, text: 'no color is available to serve this request' },
  // Nobody is left to answer: logged only (499 as nginx does).
  client_gone: { status: 499, text: 'the client went away' },
}

const CODE_REASONS: Record<string, FailureReason> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ECONNECTTIMEOUT: 'connect_timeout',
  ESERVERTIMEOUT: 'server_timeout',
  // undici's own codes
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'server_timeout',
}

/** Failures where the upstream was never reached: ejection counts them, and failover may act on them. */
export const CONNECT_FAILURES: ReadonlySet<FailureReason> = new Set([
  'refused',
  'dns',
  'unreachable',
  'connect_timeout',
])

export function failureReason(error: NodeJS.ErrnoException): FailureReason {
  const code = error.code ?? ''
  return (
    CODE_REASONS[code] ??
    (/^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO)/.test(code) ? 'tls' : 'error')
  )
}

// RFC 9110 section 7.6.1: hop-by-hop fields, plus the older ones proxies still meet. Transfer-Encoding is
// left to Node, which frames the forwarded body itself.
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
]

/** Removes hop-by-hop fields and every field the Connection header names. */
export function stripHopByHop(headers: IncomingHttpHeaders, keep: readonly string[] = []): void {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((token) => token.trim().toLowerCase())
  for (const name of [...HOP_BY_HOP, ...named]) {
    if (name && !keep.includes(name)) delete headers[name]
  }
}

const MAX_REQUEST_ID = 200

/** Per-request state; an upgrade's is found from its request in http-proxy-3's events. */
interface Exchange {
  /** Undefined when no color could take the request (503). After a failover, the color that took over. */
  route: Route | undefined
  via: RouteReason
  /** Set the sticky cookie on the answer, for the color that served it. */
  setCookie: boolean
  /** The color that could not be reached, after a failover. */
  failedOverFrom?: string
  requestId: string
  start: number
  reason?: FailureReason
  upstreamStatus?: number
  upgraded?: boolean
  /** The client went away: whatever the upstream request does next is not a failure of the upstream. */
  abandoned?: boolean
  /** Already sent a second time, on a new connection. */
  retried?: boolean
}

// RFC 9110 section 9.2.2: only idempotent requests may be repeated automatically, and only bodiless ones
// can be, since the body was consumed by the first attempt.
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/**
 * FAILOVER: the upstream was never reached (or the connection was reset before any answer, for a request
 * that may be repeated), no body byte was sent, and no other color has been tried yet.
 */
function canFailOver(req: IncomingMessage, exchange: Exchange): boolean {
  const reason = exchange.reason as FailureReason
  const unreached =
    CONNECT_FAILURES.has(reason) ||
    (reason === 'reset' && exchange.upstreamStatus === undefined && RETRYABLE_METHODS.has(req.method ?? ''))
  return unreached && exchange.failedOverFrom === undefined && !hasBody(req)
}

/**
 * A pooled socket can be closed by the upstream just as a request is written on it (a keep-alive timeout,
 * a backend draining during its own rolling update). The request never got an answer, and it is one that
 * may be repeated, so it is sent once more on a new connection, as browsers and Node's own client do.
 * (undici does not say whether the socket had been used before, so a reset on a new one is retried too.)
 */
function retryable(req: IncomingMessage, exchange: Exchange): boolean {
  return (
    exchange.reason === 'reset' &&
    exchange.upstreamStatus === undefined &&
    !exchange.retried &&
    RETRYABLE_METHODS.has(req.method ?? '') &&
    !hasBody(req)
  )
}

export function createProxy(options: ProxyOptions): Proxy {
  const { colorHeader, logger } = options
  const headerKey = colorHeader.toLowerCase()
  const now = options.now ?? performance.now.bind(performance)
  const engine = createProxyServer({ xfwd: true, toProxy: true })
  const exchanges = new WeakMap<IncomingMessage, Exchange>()

  // Errors that reach no callback (a client socket failing mid-tunnel): logged, never thrown.
  engine.on('error', (error: Error) => logger.debug({ err: error }, 'proxy socket error'))

  // Every http-proxy-3 event names the client request; its exchange was set before the upgrade began.
  const exchangeOf = (req: IncomingMessage) => exchanges.get(req) as Exchange

  engine.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage, socket: Duplex) => {
    const exchange = exchangeOf(req)
    guardTimeouts(proxyReq, exchange)
    proxyReq.once('upgrade', () => {
      exchange.upgraded = true
    })
    // Data either way is activity on the client socket, so one idle timer covers the tunnel.
    ;(socket as Socket).setTimeout(options.tunnelTimeoutMs, () => socket.destroy())
  })
  /**
   * WebSocket upgrades: TIMEOUT_CONNECT until the socket connects, then TIMEOUT_SERVER until the upstream
   * answers. (Ordinary requests get both from undici.)
   */
  function guardTimeouts(proxyReq: ClientRequest, exchange: Exchange): void {
    let timer: NodeJS.Timeout | undefined
    const fail = (code: string, text: string) => () =>
      proxyReq.destroy(Object.assign(new Error(text), { code }))
    const waitForAnswer = () => {
      clearTimeout(timer)
      timer = setTimeout(fail('ESERVERTIMEOUT', 'upstream answer timed out'), options.serverTimeoutMs)
    }
    // An upgrade always goes out on a new connection (freshAgent), so the socket is still connecting.
    const onSocket = (socket: Socket) => {
      timer = setTimeout(fail('ECONNECTTIMEOUT', 'upstream connect timed out'), options.connectTimeoutMs)
      socket.once('connect', waitForAnswer)
    }
    if (proxyReq.socket) onSocket(proxyReq.socket as Socket)
    else proxyReq.once('socket', onSocket)
    const settle = (response?: IncomingMessage) => {
      clearTimeout(timer)
      if (response) exchange.upstreamStatus = response.statusCode
    }
    proxyReq.once('response', settle)
    proxyReq.once('upgrade', settle)
    proxyReq.once('close', () => clearTimeout(timer))
  }

  /**
   * Starts an exchange: its request id, and the headers every forwarded request carries (the color, the
   * request id, and the Host we promise).
   */
  function prepare(req: IncomingMessage, decision: Decision<Route>): Exchange {
    const { route } = decision
    const headers = req.headers
    const given = headers['x-request-id']
    const requestId =
      typeof given === 'string' &&
      given.length > 0 &&
      given.length <= MAX_REQUEST_ID &&
      /^[\x21-\x7e]+$/.test(given)
        ? given
        : randomUUID()
    headers['x-request-id'] = requestId
    // A client-sent value is replaced: the backend must be able to trust it.
    if (route) headers[headerKey] = route.name
    headers['x-forwarded-host'] ??= headers.host ?? ''
    if (route && !options.preserveHost) headers.host = route.upstream.host
    const exchange: Exchange = {
      route,
      via: decision.reason,
      setCookie: decision.setCookie === true,
      requestId,
      start: now(),
    }
    return exchange
  }

  function accessLog(req: IncomingMessage, exchange: Exchange, status: number, bytes: number): void {
    // LOG_LEVEL above info: not even the line's object is built.
    if (!logger.isLevelEnabled('info')) return
    const path = (req.url ?? '').split('?', 1)[0]
    logger.info(
      {
        method: req.method,
        path,
        status,
        color: exchange.route?.name ?? null,
        upstream: exchange.route?.upstream.redacted ?? null,
        duration_ms: Math.round((now() - exchange.start) * 10) / 10,
        bytes,
        request_id: exchange.requestId,
        route: exchange.via,
        ...(exchange.failedOverFrom && { failover_from: exchange.failedOverFrom }),
        ...(exchange.reason && { error: exchange.reason }),
        ...(exchange.retried && { retried: true }),
      },
      'request',
    )
  }

  /** Logs the request and tells whoever listens that it is over. */
  function finish(req: IncomingMessage, exchange: Exchange, status: number, bytes: number): void {
    accessLog(req, exchange, status, bytes)
    options.events?.done?.({
      color: exchange.route?.name ?? null,
      status,
      durationMs: now() - exchange.start,
      via: exchange.via,
      failure: exchange.reason,
    })
  }

  /** The upstream's answer has headers: they go to the client, minus hop-by-hop, plus our own. */
  function answered(
    exchange: Exchange,
    res: ServerResponse,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): ServerResponse {
    exchange.upstreamStatus = statusCode
    const color = (exchange.route as Route).name
    options.events?.upstreamAnswered?.(color)
    if (exchange.setCookie && options.stickyCookie) {
      // Added to the upstream's own cookies, never in place of them.
      headers['set-cookie'] = [
        ...([] as string[]).concat(headers['set-cookie'] ?? []),
        options.stickyCookie(color),
      ]
    }
    stripHopByHop(headers)
    logger.debug({ request_id: exchange.requestId, status: statusCode }, 'upstream headers')
    // Our keep-alive with the client is ours to decide: Node's own choice, or close while draining. Set,
    // not written: the head goes out with the first body byte, so a drain that starts before then can
    // still make it say Connection: close.
    headers.connection = res.shouldKeepAlive ? 'keep-alive' : 'close'
    res.statusCode = statusCode
    for (const name in headers) res.setHeader(name, headers[name] as string | string[])
    return res
  }

  return {
    web(req, res, decision) {
      const socket = req.socket
      const bytesBefore = socket.bytesWritten
      const exchange = prepare(req, decision)
      options.events?.started?.()
      // Node frames the upstream request itself; Expect is answered by Node's server with 100 Continue.
      stripHopByHop(req.headers)
      delete req.headers.expect
      res.setHeader('x-request-id', exchange.requestId)
      res.once('close', () => {
        const status = res.writableFinished ? res.statusCode : FAILURES.client_gone.status
        if (!res.writableFinished) {
          // undici destroys the answer with the upstream's error when the upstream dies mid-body;
          // otherwise it was the client that went away.
          const cut = res.errored as NodeJS.ErrnoException | null
          if (cut) {
            exchange.reason ??= failureReason(cut)
          } else {
            exchange.reason ??= 'client_gone'
            // undici sees the answer end early and aborts the upstream request itself.
            exchange.abandoned = true
          }
        }
        finish(req, exchange, status, socket.bytesWritten - bytesBefore)
      })
      if (!exchange.route) {
        exchange.reason = 'no_color'
        writeFailure(res, 'no_color')
        return
      }
      const outgoing = forwardedHeaders(req)
      const withBody = hasBody(req)
      /** first: the pool; retry: the same color on a new connection; failover: another color. */
      const send = (route: Route, attempt: 'first' | 'retry' | 'failover') => {
        route.upstream.endpoint().then((endpoint) => {
          // The client may have left while the upstream's name was being resolved.
          if (res.destroyed) return
          const headers = route.upstream.authorization
            ? { ...outgoing, authorization: route.upstream.authorization }
            : outgoing
          const pool = attempt === 'retry' ? endpoint.renew() : endpoint.pool()
          pool.stream(
            {
              path: joinPath(endpoint.target.pathname, req.url ?? '/'),
              method: req.method as Dispatcher.HttpMethod,
              headers,
              // A second attempt has no body to send (see retryable, canFailOver): the client's was consumed.
              // undici destroys a failed request's body, and destroying the client's request would close its
              // socket unanswered: undici gets a stream of its own that lets go of the request instead.
              body:
                withBody && attempt === 'first'
                  ? Readable.from(req.iterator({ destroyOnReturn: false }), { objectMode: false })
                  : null,
              headersTimeout: options.serverTimeoutMs,
              bodyTimeout: 0,
            },
            ({ statusCode, headers: answer }) => answered(exchange, res, statusCode, answer),
            (error) => {
              if (error) onError(error)
            },
          )
        }, onError)
      }
      const onError = (error: Error) => {
        if (exchange.abandoned) return
        const route = exchange.route as Route
        const reason = failureReason(error as NodeJS.ErrnoException)
        exchange.reason = reason
        if (exchange.upstreamStatus === undefined) options.events?.upstreamFailed?.(route.name, reason)
        const answerable = !res.headersSent && !socket.destroyed
        if (answerable && retryable(req, exchange)) {
          exchange.retried = true
          exchange.reason = undefined
          send(route, 'retry')
          return
        }
        const next = answerable && canFailOver(req, exchange) ? options.failover?.(route.name) : undefined
        if (next) {
          options.events?.failedOver?.(route.name, next.name)
          Object.assign(exchange, {
            route: next,
            via: 'failover',
            failedOverFrom: route.name,
            reason: undefined,
          })
          outgoing[headerKey] = next.name
          if (!options.preserveHost) outgoing.host = next.upstream.host
          send(next, 'failover')
          return
        }
        // Too late for a status, or nobody left to tell: cut the response so it reads as incomplete.
        if (!answerable) res.destroy()
        else writeFailure(res, reason)
      }
      send(exchange.route, 'first')
    },

    upgrade(req, socket, head, decision) {
      // A client that vanishes before we answer must not become an uncaught 'error'.
      socket.on('error', (error) => logger.debug({ err: error }, 'client socket error'))
      const exchange = prepare(req, decision)
      exchanges.set(req, exchange)
      const route = exchange.route
      options.events?.started?.()
      stripHopByHop(req.headers, ['connection', 'upgrade'])
      socket.once('close', () => {
        const status = exchange.upgraded
          ? 101
          : exchange.reason
            ? FAILURES[exchange.reason].status
            : (exchange.upstreamStatus ?? 0)
        finish(req, exchange, status, 0)
      })
      if (!route) {
        exchange.reason = 'no_color'
        writeRawFailure(socket, 'no_color')
        return
      }
      const onError = (error: Error) => {
        exchange.reason = failureReason(error as NodeJS.ErrnoException)
        if (!exchange.upgraded) {
          options.events?.upstreamFailed?.(route.name, exchange.reason)
          writeRawFailure(socket, exchange.reason)
        } else socket.destroy()
      }
      route.upstream.endpoint().then(
        (endpoint) => {
          if (socket.destroyed) return
          const call = { target: endpoint.target, agent: endpoint.freshAgent, auth: route.upstream.auth }
          engine.ws(req, socket, head, call, onError)
        },
        (error: Error) => onError(error),
      )
    },
  }
}

/**
 * The headers sent upstream: the client's (already stripped and prepared), with X-Forwarded-For, -Port and
 * -Proto appended to. Transfer-Encoding is left to undici, which frames the forwarded body itself.
 */
function forwardedHeaders(req: IncomingMessage): IncomingHttpHeaders {
  const headers = { ...req.headers }
  delete headers['transfer-encoding']
  const append = (name: string, value: string) => {
    const given = headers[name]
    headers[name] = given ? `${given},${value}` : value
  }
  append('x-forwarded-for', req.socket.remoteAddress ?? '')
  append('x-forwarded-port', /:(\d+)$/.exec(req.headers.host ?? '')?.[1] ?? '80')
  append('x-forwarded-proto', 'http')
  return headers
}

/** The upstream's base path joined to the request's path: `/base/` + `/a?x=1` → `/base/a?x=1`. */
export function joinPath(base: string, path: string): string {
  if (base === '/' || base === '') return path
  return base.endsWith('/') && path.startsWith('/') ? base + path.slice(1) : base + path
}

/** A one-line plain-text error answer. */
export function writeFailure(res: ServerResponse, reason: FailureReason): void {
  const { status, text } = FAILURES[reason]
  const body = `${status} ${text}\n`
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}

/** The same answer written on a raw socket, for upgrade requests that never became a tunnel. */
function writeRawFailure(socket: Duplex, reason: FailureReason): void {
  const { status, text } = FAILURES[reason]
  const body = `${status} ${text}\n`
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}`
  if (socket.writable) {
    socket.end(
      `${head}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
}
