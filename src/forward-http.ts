// One HTTP request to its color's upstream: bodiless ones over undici, uploads over node:http's client
// (forward-upload.ts). undici was chosen by measurement (npm run bench, README "Performance"): on this
// machine a bare undici proxy forwards about twice what a bare http-proxy-3 one does. The request is its
// own undici handler (Pool.dispatch): the answer's head and body go straight to the client's response, with
// no stream, promise or closure per request between them (Pool.stream's Writable cost ~7% of throughput).
//
// Each attempt that fails asks attempts.ts what next: the same color again on a new connection, another
// color, or the failure's status (failures.ts). Every call has an error path, so one bad upstream or client
// never ends the process, and a broken answer never corrupts the client's connection.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Writable } from 'node:stream'
import { type Dispatcher, util } from 'undici'
import { nextAttempt } from './attempts.js'
import type { Decision } from './events.js'
import { Exchange, type Admitted, type ForwardOptions, type Route } from './exchange.js'
import { FAILURES, failureReason, writeFailure } from './failures.js'
import { passAnswer } from './forward-answer.js'
import { sendUpload } from './forward-upload.js'
import { attemptFields, joinPath, ownFields, requestFields } from './headers.js'
import type { Endpoint } from './upstream.js'
import { sentBytes } from './sent-bytes.js'
import { createTlsWarning } from './tls-warning.js'

export type HttpForwarder = (
  req: IncomingMessage,
  res: ServerResponse,
  admitted: Admitted,
  decision: Decision<Route>,
) => void

export function createHttpForwarder(options: ForwardOptions): HttpForwarder {
  const shared = {
    options,
    ours: ownFields(options.colorHeader, options.basicAuth),
    warnTls: createTlsWarning(options.logger),
  }
  return (req, res, admitted, decision) => {
    const exchange = Exchange.admitted(req, decision, admitted, options)
    res.setHeader('x-request-id', exchange.id)
    const request = new HttpRequest(exchange, res, admitted, shared)
    if (!exchange.route) {
      exchange.reason = 'no_color'
      writeFailure(res, 'no_color')
      return
    }
    request.send(exchange.route, 'first')
  }
}

/** first: the pool; retry: the same color on a new connection; failover: another color. */
type AttemptKind = 'first' | 'retry' | 'failover'

interface Shared {
  options: ForwardOptions
  /** The fields colorproxy sets itself: a client's are never forwarded. */
  ours: ReadonlySet<string>
  warnTls: (color: string, error: NodeJS.ErrnoException) => void
}

/** The attempts of one request, until the client has its answer or its failure. */
class HttpRequest implements Dispatcher.DispatchHandler {
  /** The fields every attempt sends (Host and the color come per attempt). */
  private readonly base: string[]
  private readonly hasBody: boolean
  /** The client went away: whatever the upstream request does next is not a failure of the upstream. */
  private abandoned = false
  /** The client has its whole answer (a bodiless one is ended at once): later upstream errors are moot. */
  private complete = false
  /** The client's response is closed (answered, or the client left). */
  private over = false
  /** Where the current attempt's answer body goes: the client's response, or a sink (a bodiless answer's). */
  private sink: Writable | undefined
  /** Cancels the current attempt (undici's). */
  private abort: ((error?: Error) => void) | undefined
  /** Lets the upstream's answer flow again once the client has read what it was sent. */
  private resume: (() => void) | undefined
  /**
   * Bytes of the answer's body still to come: its Content-Length counted down, Infinity for a chunked
   * one, undefined for one that ends when the upstream closes the connection.
   */
  private left: number | undefined

  constructor(
    private readonly exchange: Exchange,
    private readonly res: ServerResponse,
    admitted: Admitted,
    private readonly shared: Shared,
  ) {
    const { req } = exchange
    const length = req.headers['content-length']
    // HTTP/2 frames a body by DATA frames, with or without a Content-Length: none when the headers ended it.
    this.hasBody =
      req.httpVersionMajor === 2
        ? !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders
        : req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
    this.base = requestFields(
      req.rawHeaders,
      req.headers.connection,
      shared.ours,
      exchange.id,
      admitted.forwarded,
    )
    const bytes = sentBytes(req, res)
    res.once('close', () => this.closed(bytes()))
  }

  send(route: Route, kind: AttemptKind): void {
    // Most requests find their upstream's addresses already resolved: no promise, no microtask.
    const endpoint = route.upstream.endpointNow()
    if (endpoint) return this.dispatch(endpoint, route, kind)
    route.upstream.endpoint().then(
      (found) => this.dispatch(found, route, kind),
      (error: Error) => this.failed(error),
    )
  }

  private dispatch(endpoint: Endpoint, route: Route, kind: AttemptKind): void {
    // The client may have left while the upstream's name was being resolved.
    if (this.over) return
    const { options } = this.shared
    const { req } = this.exchange
    const path = joinPath(endpoint.target.pathname, this.exchange.path)
    const headers = attemptFields(this.base, {
      host: this.exchange.hostFor(route),
      colorHeader: options.colorHeader,
      color: route.name,
      authorization: route.upstream.authorization,
    })
    const { timeouts } = options
    // Only a first attempt can have a body (attempts.ts): the client's is read once.
    if (this.hasBody) {
      sendUpload({
        endpoint,
        method: req.method as string,
        path,
        headers,
        body: req,
        connectTimeoutMs: timeouts.connectMs,
        serverTimeoutMs: timeouts.serverMs,
        serverIdleTimeoutMs: timeouts.serverIdleMs,
        onInfo: (info) => this.onInfo(info.statusCode, info.headers),
        onAnswer: (statusCode, head) => this.answer(statusCode, head),
        onDone: (error) => {
          if (error) this.failed(error)
        },
      })
      return
    }
    this.abort = undefined
    const pool = kind === 'retry' ? endpoint.fresh() : endpoint.pool()
    pool.dispatch(
      {
        path,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: null,
        headersTimeout: timeouts.serverMs,
        bodyTimeout: timeouts.serverIdleMs,
        // undici closes the connection after every HEAD unless told the upstream frames HEAD right.
        ...(req.method === 'HEAD' && { reset: false }),
      },
      this,
    )
  }

  // undici's handler: the attempt's connection, the answer's head, its body, its end, or its failure.

  onConnect(abort: (error?: Error) => void): void {
    this.abort = abort
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    const headers = util.parseHeaders(rawHeaders) as IncomingHttpHeaders
    if (statusCode < 200) {
      this.onInfo(statusCode, headers)
      return true
    }
    this.resume = resume
    this.left = bodyLength(headers)
    this.sink = this.answer(statusCode, headers)
    return true
  }

  onData(chunk: Buffer): boolean {
    const sink = this.sink as Writable
    if (this.left !== undefined) this.left -= chunk.length
    if (sink.write(chunk)) return true
    // The client reads slower than the upstream sends: the upstream's socket waits for the client's.
    // Never on a body's last bytes, nor on a body that ends with the connection: undici 7 asserts, and the
    // process dies, when the upstream closes while its parser waits (nodejs/undici#5360; fixed only in
    // undici 8, which needs Node 22). Those bytes are already here; Node buffers them for the client.
    if (this.left === undefined || this.left <= 0) return true
    sink.once('drain', this.resume as () => void)
    return false
  }

  onComplete(): void {
    this.sink?.end()
    this.complete = true
  }

  onError(error: Error): void {
    this.failed(error)
  }

  /** The answer's head goes to the client: returns where its body goes. */
  private answer(statusCode: number, headers: IncomingHttpHeaders): Writable {
    return passAnswer(
      this.exchange,
      this.res,
      { statusCode, headers },
      this.shared.options,
      () => (this.complete = true),
    )
  }

  /**
   * RFC 9110 section 15.2: 1xx the client did not ask for are skipped; 103 Early Hints are passed on to an
   * HTTP/1.1 or HTTP/2 client (an HTTP/1.0 one must get none).
   */
  private onInfo(statusCode: number, headers: IncomingHttpHeaders): void {
    const { req } = this.exchange
    const takesHints = req.httpVersionMajor === 2 || req.httpVersionMinor >= 1
    if (statusCode === 103 && headers.link && takesHints && !this.res.headersSent) {
      this.res.writeEarlyHints({ link: headers.link })
    }
  }

  /** An attempt failed: retry, fail over, or answer with the failure (attempts.ts decides). */
  private failed(error: Error): void {
    if (this.abandoned || this.complete) return
    const { exchange, res } = this
    const { options } = this.shared
    const route = exchange.route as Route
    const reason = failureReason(error as NodeJS.ErrnoException)
    exchange.reason = reason
    options.events.upstreamFailed?.(route.name, reason)
    if (reason === 'tls') this.shared.warnTls(route.name, error as NodeJS.ErrnoException)
    const answerable = !res.headersSent && !exchange.req.socket.destroyed
    const next = nextAttempt(
      { method: exchange.req.method as string, hasBody: this.hasBody, answerable },
      { reason, answered: exchange.upstreamStatus !== undefined },
      {
        retried: exchange.retried,
        failedOver: exchange.failedOverFrom !== undefined,
        failoverAllowed: options.failover !== undefined,
      },
    )
    if (next === 'retry') {
      exchange.retried = true
      exchange.reason = undefined
      return this.send(route, 'retry')
    }
    const other = next === 'failover' ? options.failover?.(route.name) : undefined
    if (other) {
      options.events.failedOver?.(route.name, other.name)
      exchange.failOver(other)
      return this.send(other, 'failover')
    }
    // Too late for a status, or nobody left to tell: cut the response so it reads as incomplete.
    if (!answerable) res.destroy()
    else writeFailure(res, reason)
  }

  /** The client's response is closed: what it got, and whose fault any shortfall was. */
  private closed(bytes: number): void {
    const { exchange, res } = this
    this.over = true
    let status = res.statusCode
    if (!res.writableFinished) {
      // undici destroys the answer with the upstream's error when the upstream breaks mid-body: that is
      // the upstream's failure (counted against the color); otherwise the client went away. An HTTP/2
      // response keeps the error on its stream.
      const stream = (res as unknown as { stream?: { errored: Error | null } }).stream
      const cut = (res.errored ?? stream?.errored) as NodeJS.ErrnoException | null
      if (cut && exchange.reason === undefined) exchange.reason = failureReason(cut)
      if (exchange.reason === undefined || exchange.reason === 'client_gone') {
        exchange.reason = 'client_gone'
        // Nobody will read the rest: the upstream request is cancelled (its connection closes).
        this.abandoned = true
        this.abort?.(new Error('the client went away'))
      }
      status = FAILURES[exchange.reason].status
    }
    exchange.finish(status, bytes)
  }
}

/** How much body an answer's head announces: its Content-Length, Infinity when chunked, else undefined. */
function bodyLength(headers: IncomingHttpHeaders): number | undefined {
  if (headers['transfer-encoding'] !== undefined) return Number.POSITIVE_INFINITY
  const length = headers['content-length']
  return length === undefined ? undefined : Number(length)
}
