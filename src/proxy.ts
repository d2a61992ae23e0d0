// Forwards one admitted request to a color's upstream with undici (Pool.stream), and a WebSocket upgrade
// with http-proxy-3. undici was chosen by measurement (npm run bench, README "Performance"): on this machine
// a bare undici proxy forwards about twice what a bare http-proxy-3 one does.
//
// Every call has an error path, and one table (failures.ts) maps failures to statuses, so one bad upstream
// or client never ends the process, and a broken answer never corrupts the client's connection.
import { randomUUID } from 'node:crypto'
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { type Duplex, Writable } from 'node:stream'
import { createProxyServer } from 'http-proxy-3'
import type { Dispatcher } from 'undici'
import { CONNECT_FAILURES, FAILURES, type FailureReason, failureReason } from './failures.js'
import type { Forwarded } from './forwarding.js'
import { sendUpload } from './forward-upload.js'
import { endToEndFields, MAX_HEADER_FIELDS, stripResponseHopByHop } from './headers.js'
import type { Logger } from './logger.js'
import type { Decision, RouteReason } from './router.js'
import type { Upstream } from './upstream.js'
import { createWarnLimiter } from './warn-limiter.js'

export { CONNECT_FAILURES, FAILURES, type FailureReason, failureReason }

export interface ProxyOptions {
  colorHeader: string
  preserveHost: boolean
  connectTimeoutMs: number
  serverTimeoutMs: number
  /** TIMEOUT_SERVER_IDLE: the longest silence from the upstream while its answer's body streams. */
  serverIdleTimeoutMs: number
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
  /** An attempt failed (before any answer, or cutting one); `reason` says how. */
  upstreamFailed?(color: string, reason: FailureReason): void
  /** An upstream sent response headers. */
  upstreamAnswered?(color: string): void
  failedOver?(from: string, to: string): void
  started?(): void
  /** A request is over (answered, failed, refused, or abandoned by its client). */
  done?(record: RequestRecord): void
}

export interface RequestRecord {
  /** The color that served it last; null for a 503 or a refused request. */
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

/** A request that passed the checks of request-target.ts: where it goes, and who sent it. */
export interface Admitted {
  /** Origin-form path and query, dot-segments removed. */
  path: string
  forwarded: Forwarded
}

export interface Proxy {
  web(req: IncomingMessage, res: ServerResponse, admitted: Admitted, decision: Decision<Route>): void
  upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    admitted: Admitted,
    decision: Decision<Route>,
  ): void
  /** A request colorproxy will not forward: answered here, logged, never counted against a color. */
  refuse(req: IncomingMessage, res: ServerResponse, status: number, text: string, client: string): void
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
  path: string
  client: string
  start: number
  reason?: FailureReason
  upstreamStatus?: number
  upgraded?: boolean
  /** The client went away: whatever the upstream request does next is not a failure of the upstream. */
  abandoned?: boolean
  /** The client has its whole answer (a bodiless one is ended at once): later upstream errors are moot. */
  complete?: boolean
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
    (reason === 'reset' &&
      exchange.upstreamStatus === undefined &&
      RETRYABLE_METHODS.has(req.method as string))
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
    RETRYABLE_METHODS.has(req.method as string) &&
    !hasBody(req)
  )
}

/** RFC 9110 section 15: a status is three digits from 100 to 599; anything else is a broken upstream. */
function validAnswer(statusCode: number, headers: IncomingHttpHeaders): boolean {
  if (statusCode < 200 || statusCode > 599) return false
  let fields = 0
  for (const name in headers) {
    const value = headers[name]
    fields += Array.isArray(value) ? value.length : 1
  }
  return fields <= MAX_HEADER_FIELDS
}

/** Where a bodiless answer's (absent) body goes, once the client's response is already ended. */
const discard = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done()
    },
  })

export function createProxy(options: ProxyOptions): Proxy {
  const { colorHeader, logger } = options
  const headerKey = colorHeader.toLowerCase()
  const now = options.now ?? performance.now.bind(performance)
  const engine = createProxyServer({ xfwd: false, toProxy: true })
  const exchanges = new WeakMap<IncomingMessage, Exchange>()
  // The fields colorproxy sets itself: a client's are never forwarded.
  const ours: ReadonlySet<string> = new Set([
    'host',
    headerKey,
    'x-request-id',
    'x-forwarded-for',
    'x-forwarded-host',
    'x-forwarded-proto',
    'x-forwarded-port',
  ])
  const tlsWarning = createWarnLimiter(60_000, Date.now)

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

  /** Starts an exchange: its request id (the client's if printable and short, else a new one). */
  function begin(req: IncomingMessage, admitted: Admitted, decision: Decision<Route>): Exchange {
    const given = req.headers['x-request-id']
    const requestId =
      typeof given === 'string' &&
      given.length > 0 &&
      given.length <= MAX_REQUEST_ID &&
      /^[\x21-\x7e]+$/.test(given)
        ? given
        : randomUUID()
    return {
      route: decision.route,
      via: decision.reason,
      setCookie: decision.setCookie === true,
      requestId,
      path: admitted.path,
      client: admitted.forwarded.client,
      start: now(),
    }
  }

  /**
   * The fields every attempt sends: the client's end-to-end ones, then ours. Host and the color come per
   * attempt (a failover changes both).
   */
  function baseFields(req: IncomingMessage, exchange: Exchange, forwarded: Forwarded): string[] {
    const fields = endToEndFields(req.rawHeaders, req.headers.connection, ours)
    fields.push(
      'x-request-id',
      exchange.requestId,
      'x-forwarded-for',
      forwarded.for,
      'x-forwarded-host',
      forwarded.host,
      'x-forwarded-proto',
      forwarded.proto,
      'x-forwarded-port',
      forwarded.port,
    )
    return fields
  }

  /** Host and the color for one attempt; an upstream URL's credentials replace the client's. */
  function attemptFields(req: IncomingMessage, base: string[], route: Route): string[] {
    const host =
      options.preserveHost && req.headers.host !== undefined ? req.headers.host : route.upstream.host
    const { authorization } = route.upstream
    if (authorization === undefined) return [...base, 'host', host, colorHeader, route.name]
    const fields: string[] = []
    for (let i = 0; i < base.length; i += 2) {
      if ((base[i] as string).toLowerCase() !== 'authorization')
        fields.push(base[i] as string, base[i + 1] as string)
    }
    fields.push('host', host, colorHeader, route.name, 'authorization', authorization)
    return fields
  }

  function accessLog(req: IncomingMessage, exchange: Exchange, status: number, bytes: number): void {
    // LOG_LEVEL above info: not even the line's object is built.
    if (!logger.isLevelEnabled('info')) return
    logger.info(
      {
        method: req.method,
        path: exchange.path.split('?', 1)[0],
        status,
        color: exchange.route?.name ?? null,
        upstream: exchange.route?.upstream.redacted ?? null,
        duration_ms: Math.round((now() - exchange.start) * 10) / 10,
        bytes,
        request_id: exchange.requestId,
        route: exchange.via,
        client: exchange.client,
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

  /** The client's response is closed: what it got, and whose fault any shortfall was. */
  function closed(req: IncomingMessage, res: ServerResponse, exchange: Exchange, bytes: number): void {
    let status = res.statusCode
    if (!res.writableFinished) {
      // undici destroys the answer with the upstream's error when the upstream breaks mid-body: that is
      // the upstream's failure (counted against the color); otherwise the client went away.
      const cut = res.errored as NodeJS.ErrnoException | null
      if (cut && exchange.reason === undefined) exchange.reason = failureReason(cut)
      if (exchange.reason === undefined || exchange.reason === 'client_gone') {
        exchange.reason = 'client_gone'
        // undici sees the answer end early and aborts the upstream request itself.
        exchange.abandoned = true
      }
      status = FAILURES[exchange.reason].status
    }
    finish(req, exchange, status, bytes)
  }

  /** The upstream's answer has headers: they go to the client, minus hop-by-hop, plus our own. */
  function answered(
    req: IncomingMessage,
    res: ServerResponse,
    exchange: Exchange,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): Writable {
    exchange.upstreamStatus = statusCode
    const color = (exchange.route as Route).name
    if (!validAnswer(statusCode, headers)) {
      exchange.reason = 'bad_response'
      options.events?.upstreamFailed?.(color, 'bad_response')
      writeFailure(res, 'bad_response')
      exchange.complete = true
      return discard()
    }
    options.events?.upstreamAnswered?.(color)
    if (exchange.setCookie && options.stickyCookie) {
      // Added to the upstream's own cookies, never in place of them.
      headers['set-cookie'] = [
        ...([] as string[]).concat(headers['set-cookie'] ?? []),
        options.stickyCookie(color),
      ]
    }
    stripResponseHopByHop(headers)
    logger.debug({ request_id: exchange.requestId, status: statusCode }, 'upstream headers')
    // Our keep-alive with the client is ours to decide: Node's own choice, close while draining, and close
    // when the upstream answered before the client's body was all read (the rest is never forwarded).
    const framed = frame(req, headers)
    const keepAlive = framed && res.shouldKeepAlive && req.complete
    if (!keepAlive) res.shouldKeepAlive = false
    // Set, not written: the head goes out with the first body byte, so a drain that starts before then can
    // still make it say Connection: close.
    headers.connection = keepAlive ? 'keep-alive' : 'close'
    res.statusCode = statusCode
    for (const name in headers) res.setHeader(name, headers[name] as string | string[])
    // RFC 9110 section 6.4.1: no body, whatever Content-Length says (undici 7 would fail a 304 with one).
    if (statusCode === 204 || statusCode === 304 || req.method === 'HEAD') {
      exchange.complete = true
      res.end()
      return discard()
    }
    return res
  }

  /** TLS failures say why (self-signed, expired, wrong name), at most once a minute per color and cause. */
  function warnTls(color: string, error: NodeJS.ErrnoException): void {
    const code = error.code ?? 'unknown'
    const suppressed = tlsWarning(`${color} ${code}`)
    if (suppressed === undefined) return
    logger.warn(
      { color, code, cause: error.message, ...(suppressed > 0 && { suppressed }) },
      `TLS with ${color}'s upstream failed: ${error.message} (set NODE_EXTRA_CA_CERTS to trust a private CA)`,
    )
  }

  return {
    refuse(req, res, status, text, client) {
      const exchange: Exchange = {
        route: undefined,
        via: 'refused',
        setCookie: false,
        requestId: randomUUID(),
        path: (req.url ?? '').slice(0, 200),
        client,
        start: now(),
      }
      options.events?.started?.()
      const bytesBefore = req.socket.bytesWritten
      res.once('close', () => finish(req, exchange, status, req.socket.bytesWritten - bytesBefore))
      // The rest of a refused request is never read: the connection ends with this answer.
      res.shouldKeepAlive = false
      writePlain(res, status, `${status} ${text}\n`)
    },

    web(req, res, admitted, decision) {
      const socket = req.socket
      const bytesBefore = socket.bytesWritten
      const exchange = begin(req, admitted, decision)
      options.events?.started?.()
      res.setHeader('x-request-id', exchange.requestId)
      res.once('close', () => closed(req, res, exchange, socket.bytesWritten - bytesBefore))
      if (!exchange.route) {
        exchange.reason = 'no_color'
        writeFailure(res, 'no_color')
        return
      }
      const base = baseFields(req, exchange, admitted.forwarded)
      const withBody = hasBody(req)
      // RFC 9110 section 15.2: 1xx the client did not ask for are skipped; 103 Early Hints are passed on to
      // an HTTP/1.1 client (an HTTP/1.0 one must get none).
      const onInfo = ({ statusCode, headers }: { statusCode: number; headers: IncomingHttpHeaders }) => {
        if (statusCode === 103 && headers.link && req.httpVersionMinor >= 1 && !res.headersSent) {
          res.writeEarlyHints({ link: headers.link })
        }
      }
      const answer = (statusCode: number, headers: IncomingHttpHeaders) =>
        answered(req, res, exchange, statusCode, headers)
      const settled = (error: Error | null) => {
        if (error) onError(error)
      }
      /** first: the pool; retry: the same color on a new connection; failover: another color. */
      const send = (route: Route, attempt: 'first' | 'retry' | 'failover') => {
        route.upstream.endpoint().then((endpoint) => {
          // The client may have left while the upstream's name was being resolved.
          if (res.destroyed) return
          const path = joinPath(endpoint.target.pathname, exchange.path)
          const headers = attemptFields(req, base, route)
          // Only a first attempt can have a body (see retryable, canFailOver): the client's is read once.
          if (withBody) {
            sendUpload({
              endpoint,
              method: req.method as string,
              path,
              headers,
              body: req,
              connectTimeoutMs: options.connectTimeoutMs,
              serverTimeoutMs: options.serverTimeoutMs,
              serverIdleTimeoutMs: options.serverIdleTimeoutMs,
              onInfo,
              onAnswer: answer,
              onDone: settled,
            })
            return
          }
          const pool = attempt === 'retry' ? endpoint.renew() : endpoint.pool()
          pool.stream(
            {
              path,
              method: req.method as Dispatcher.HttpMethod,
              headers,
              body: null,
              headersTimeout: options.serverTimeoutMs,
              bodyTimeout: options.serverIdleTimeoutMs,
              // undici closes the connection after every HEAD unless told the upstream frames HEAD right.
              ...(req.method === 'HEAD' && { reset: false }),
              onInfo,
            },
            ({ statusCode, headers: head }) => answer(statusCode, head),
            settled,
          )
        }, onError)
      }
      const onError = (error: Error) => {
        if (exchange.abandoned || exchange.complete) return
        const route = exchange.route as Route
        const reason = failureReason(error as NodeJS.ErrnoException)
        exchange.reason = reason
        options.events?.upstreamFailed?.(route.name, reason)
        if (reason === 'tls') warnTls(route.name, error as NodeJS.ErrnoException)
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
          exchange.route = next
          exchange.via = 'failover'
          exchange.failedOverFrom = route.name
          exchange.reason = undefined
          send(next, 'failover')
          return
        }
        // Too late for a status, or nobody left to tell: cut the response so it reads as incomplete.
        if (!answerable) res.destroy()
        else writeFailure(res, reason)
      }
      send(exchange.route, 'first')
    },

    upgrade(req, socket, head, admitted, decision) {
      // A client that vanishes before we answer must not become an uncaught 'error'.
      socket.on('error', (error) => logger.debug({ err: error }, 'client socket error'))
      const exchange = begin(req, admitted, decision)
      exchanges.set(req, exchange)
      const route = exchange.route
      options.events?.started?.()
      const bytesBefore = (socket as Socket).bytesWritten ?? 0
      socket.once('close', () => {
        const status = exchange.upgraded
          ? 101
          : exchange.reason
            ? FAILURES[exchange.reason].status
            : (exchange.upstreamStatus ?? 0)
        finish(req, exchange, status, ((socket as Socket).bytesWritten ?? 0) - bytesBefore)
      })
      if (!route) {
        exchange.reason = 'no_color'
        writeRawFailure(socket, 'no_color')
        return
      }
      const upgrade = req.headers.upgrade as string
      const base = baseFields(req, exchange, admitted.forwarded)
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
          // http-proxy-3 forwards req.headers: they become ours, built like an ordinary request's.
          req.headers = {
            ...headerObject(attemptFields(req, base, route)),
            connection: 'upgrade',
            upgrade,
          }
          req.url = admitted.path
          const call = { target: endpoint.target, agent: endpoint.freshAgent, auth: route.upstream.auth }
          engine.ws(req, socket, head, call, onError)
        },
        (error: Error) => onError(error),
      )
    },
  }
}

/**
 * RFC 9112 section 6.1: the upstream's Transfer-Encoding is this hop's. Node frames the answer again
 * (chunked to an HTTP/1.1 client when there is no Content-Length). A coding other than chunked (`gzip`)
 * stays named, with chunked after it; an HTTP/1.0 client cannot be sent one, so its connection closes
 * after the answer. Returns whether the connection may stay open.
 */
function frame(req: IncomingMessage, headers: IncomingHttpHeaders): boolean {
  const te = headers['transfer-encoding']
  if (te === undefined) return true
  delete headers['transfer-encoding']
  const codings = String(te)
    .toLowerCase()
    .split(',')
    .map((coding) => coding.trim())
    .filter((coding) => coding !== '' && coding !== 'chunked')
  if (codings.length === 0) return true
  if (req.httpVersionMinor === 0) return false
  headers['transfer-encoding'] = [...codings, 'chunked'].join(', ')
  return true
}

/** A flat name/value list as Node's header object (lower-case names, repeated fields joined). */
function headerObject(fields: readonly string[]): IncomingHttpHeaders {
  const headers: Record<string, string> = {}
  for (let i = 0; i < fields.length; i += 2) {
    const name = (fields[i] as string).toLowerCase()
    const value = fields[i + 1] as string
    const given = headers[name]
    headers[name] = given === undefined ? value : `${given}${name === 'cookie' ? '; ' : ', '}${value}`
  }
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
  writePlain(res, status, `${status} ${text}\n`)
}

function writePlain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}

/** The same answer written on a raw socket, for requests Node hands over without a response object. */
export function writeRawAnswer(socket: Duplex, status: number, text: string, extra = ''): void {
  const body = `${status} ${text}\n`
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}`
  if (socket.writable) {
    socket.end(
      `${head}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    )
  }
}

function writeRawFailure(socket: Duplex, reason: FailureReason): void {
  writeRawAnswer(socket, FAILURES[reason].status, FAILURES[reason].text)
}
