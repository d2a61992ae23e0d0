// One HTTP request to its color's upstream: bodiless ones over colorproxy's own keep-alive connections
// (upstream/address-pool.ts: node:net sockets, answers framed by Node's llhttp), uploads over node:http's client
// (upload.ts). The request is its own answer handler: the answer's head and body go straight to the
// client's response, with no stream, promise or closure per request between them. That path was chosen by
// measurement (npm run bench, docs/performance.md): bare, that engine forwards 1.2–1.4× what undici's
// Pool.dispatch does, which was itself faster than undici's Pool.stream.
//
// Each attempt that fails asks attempts.ts what next: the same color again on a new connection, another
// color, or the failure's status (failures.ts). Every call has an error path, so one bad upstream or client
// never ends the process, and a broken answer never corrupts the client's connection.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Writable } from 'node:stream'
import { util } from 'undici'
import { nextAttempt } from './attempts.js'
import type { Decision } from './events.js'
import { Exchange, type Admitted, type ForwardOptions, type Route } from './exchange.js'
import { FAILURES, failureReason, writeFailure } from './failures.js'
import { passAnswer } from './answer-head.js'
import { sendUpload } from './upload.js'
import { attemptFields, joinPath, ownFields, requestFields } from './headers.js'
import type { Endpoint } from '../upstream/color-pools.js'
import type { AnswerHandler, UpstreamRequest } from '../upstream/connection.js'
import { sentBytes } from './sent-bytes.js'
import { createTlsWarning } from '../upstream/tls-warning.js'

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
class HttpRequest implements AnswerHandler {
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
  /** Cancels the current attempt (its upstream connection closes). */
  private abort: (() => void) | undefined
  /** Lets the upstream's answer flow again once the client has read what it was sent. */
  private resume: (() => void) | undefined
  /** The answer waits for the client's response to drain. */
  private waiting = false

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
        timeouts,
        onInfo: (info) => this.onInfo(info.statusCode, info.headers),
        onAnswer: (statusCode, head) => this.answer(statusCode, head),
        onDone: (error) => {
          if (error) this.failed(error)
        },
      })
      return
    }
    this.abort = undefined
    const request: UpstreamRequest = {
      path,
      method: req.method as string,
      headers,
      headersTimeout: timeouts.serverMs,
      bodyTimeout: timeouts.serverIdleMs,
    }
    if (kind === 'retry') endpoint.pool().fresh(request, this)
    else endpoint.pool().dispatch(request, this)
  }

  // The answer handler: the attempt's start, the answer's head, its body, its end, or its failure.

  onConnect(abort: () => void): void {
    this.abort = abort
  }

  onHeaders(statusCode: number, fields: string[], resume: () => void): void {
    const headers = util.parseHeaders(fields) as IncomingHttpHeaders
    if (statusCode < 200) return this.onInfo(statusCode, headers)
    this.resume = resume
    this.sink = this.answer(statusCode, headers)
  }

  onData(chunk: Buffer): boolean {
    const sink = this.sink as Writable
    if (sink.write(chunk)) return true
    // The client reads slower than the upstream sends: the upstream's socket waits for the client's.
    if (!this.waiting) {
      this.waiting = true
      sink.once('drain', this.drained)
    }
    return false
  }

  private readonly drained = (): void => {
    this.waiting = false
    ;(this.resume as () => void)()
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
    // Too late for a status, or nobody left to tell: cut the response so it reads as incomplete, once
    // what was already written for it has left (a destroy now would drop the head Node still holds).
    if (!answerable) setImmediate(() => res.destroy())
    else writeFailure(res, reason)
  }

  /** The client's response is closed: what it got, and whose fault any shortfall was. */
  private closed(bytes: number): void {
    const { exchange, res } = this
    this.over = true
    let status = res.statusCode
    if (!res.writableFinished) {
      // An upstream that broke mid-body has named its failure already (failed(): counted against the
      // color), and a response destroyed with an error carries it (an HTTP/2 one on its stream); otherwise
      // the client went away.
      const stream = (res as unknown as { stream?: { errored: Error | null } }).stream
      const cut = (res.errored ?? stream?.errored) as NodeJS.ErrnoException | null
      if (cut && exchange.reason === undefined) exchange.reason = failureReason(cut)
      if (exchange.reason === undefined || exchange.reason === 'client_gone') {
        exchange.reason = 'client_gone'
        // Nobody will read the rest: the upstream request is cancelled (its connection closes).
        this.abandoned = true
        this.abort?.()
      }
      status = FAILURES[exchange.reason].status
    }
    exchange.finish(status, bytes)
  }
}
