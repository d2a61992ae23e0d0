// One HTTP request to its color's upstream, attempt by attempt. The transport is transport.ts's choice
// (the own kept connections, or node:http's client for a body); whichever it is, the request is its
// answer handler: 1xx heads go to early-hints.ts, the final head to answer-head.ts, the body through
// answer-flow.ts straight to the client's response, with no stream, promise or closure per request between
// them. That path was chosen by measurement (npm run bench, docs/performance.md): bare, that engine
// forwards 1.2–1.4× what undici's Pool.dispatch does, which was itself faster than undici's Pool.stream.
//
// Each attempt that fails asks attempts.ts what next: the same color again on a new connection, another
// color, or the failure's status (failures.ts); client-close.ts says what the closed response was. Every
// call has an error path, so one bad upstream or client never ends the process, and a broken answer never
// corrupts the client's connection.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { AnswerFlow } from './answer-flow.js'
import { nextAttempt } from './attempts.js'
import { closedStatus } from './client-close.js'
import { passInformation } from './early-hints.js'
import type { Decision } from './events.js'
import { Exchange, type Admitted, type ForwardOptions, type SiteColor } from './exchange.js'
import { failureReason, writeFailure } from './failures.js'
import { passAnswer } from './answer-head.js'
import { sendAttempt, type AttemptKind } from './transport.js'
import { answerHeaders, attemptFields, joinPath, ownFields, requestFields } from './headers.js'
import type { Endpoint } from '../upstream/color-pools.js'
import type { AnswerHandler } from '../upstream/connection.js'
import { sentBytes } from './sent-bytes.js'
import { createTlsWarning } from '../upstream/tls-warning.js'

export type HttpForwarder = (
  req: IncomingMessage,
  res: ServerResponse,
  admitted: Admitted,
  decision: Decision<SiteColor>,
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
    if (!exchange.color) {
      exchange.reason = 'no_color'
      writeFailure(res, 'no_color')
      return
    }
    request.send(exchange.color, 'first')
  }
}

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
  /** The client has its whole answer (a bodiless one is ended at once): later upstream errors are moot. */
  private complete = false
  /** The client's response is closed (answered, or the client left): no more attempts, no more errors. */
  private over = false
  /** The current attempt's answer body on its way to the client. */
  private flow: AnswerFlow | undefined
  /** Cancels the current attempt (its upstream connection closes). */
  private abort: (() => void) | undefined

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

  send(color: SiteColor, kind: AttemptKind): void {
    // Most requests find their upstream's addresses already resolved: no promise, no microtask.
    const endpoint = color.upstream.endpointNow()
    if (endpoint) return this.dispatch(endpoint, color, kind)
    color.upstream.endpoint().then(
      (found) => this.dispatch(found, color, kind),
      (error: Error) => this.failed(error),
    )
  }

  private dispatch(endpoint: Endpoint, color: SiteColor, kind: AttemptKind): void {
    // The client may have left while the upstream's name was being resolved.
    if (this.over) return
    const { options } = this.shared
    const { req } = this.exchange
    const method = req.method as string
    const path = joinPath(endpoint.target.pathname, this.exchange.path)
    const headers = attemptFields(this.base, {
      host: this.exchange.hostFor(color),
      colorHeader: options.colorHeader,
      color: color.name,
      authorization: color.upstream.authorization,
    })
    const { timeouts } = options
    this.abort = undefined
    // Only a first attempt can have a body (attempts.ts): the client's is read once.
    const attempt = this.hasBody
      ? { method, path, headers, body: req, timeouts }
      : { method, path, headers, headersTimeout: timeouts.serverMs, bodyTimeout: timeouts.serverIdleMs }
    sendAttempt(endpoint, kind, attempt, this)
  }

  // The answer handler: the attempt's start, the answer's heads, its body, its end, or its failure.

  onConnect(abort: () => void): void {
    this.abort = abort
  }

  onHeaders(statusCode: number, fields: string[], resume: () => void): void {
    const headers = answerHeaders(fields)
    const { exchange, res } = this
    if (statusCode < 200) return passInformation(exchange.req, res, statusCode, headers)
    const sink = passAnswer(exchange, res, { statusCode, headers }, this.shared.options, this.ended)
    this.flow = new AnswerFlow(sink, resume)
  }

  onData(chunk: Buffer): boolean {
    return (this.flow as AnswerFlow).write(chunk)
  }

  onComplete(): void {
    this.flow?.end()
    this.complete = true
  }

  onError(error: Error): void {
    this.failed(error)
  }

  private readonly ended = (): void => {
    this.complete = true
  }

  /** An attempt failed: retry, fail over, or answer with the failure (attempts.ts decides). */
  private failed(error: Error): void {
    if (this.complete || this.exchange.reason === 'client_gone') return
    const { exchange, res } = this
    const { options } = this.shared
    const color = exchange.color as SiteColor
    const reason = failureReason(error as NodeJS.ErrnoException)
    exchange.reason = reason
    options.events.upstreamFailed?.(color.name, reason)
    if (reason === 'tls') this.shared.warnTls(color.name, error as NodeJS.ErrnoException)
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
      return this.send(color, 'retry')
    }
    const other = next === 'failover' ? options.failover?.(color.name) : undefined
    if (other) {
      options.events.failedOver?.(color.name, other.name)
      exchange.failOver(other)
      return this.send(other, 'failover')
    }
    // Too late for a status, or nobody left to tell: cut the response so it reads as incomplete, once
    // what was already written for it has left (a destroy now would drop the head Node still holds).
    if (!answerable) setImmediate(() => res.destroy())
    else writeFailure(res, reason)
  }

  /** The client's response is closed: the exchange ends, and an upstream request for nobody is cancelled. */
  private closed(bytes: number): void {
    this.over = true
    const status = closedStatus(this.exchange, this.res)
    if (this.exchange.reason === 'client_gone') this.abort?.()
    this.exchange.finish(status, bytes)
  }
}
