// One upstream connection (node:net, or node:tls for an https:// upstream) carrying one request at a time.
// The request goes out as one string (request-head.ts); the answer is framed by llhttp (llhttp.ts), Node's
// own strict parser, and its head and body go to the request's handler as they come, with no stream,
// promise or client library in between: measured, this path forwards 1.2–1.4× what undici's Pool.dispatch
// does (docs/performance.md).
//
// What the upstream sends is never trusted: a parse error, a status llhttp would take as an upgrade, bytes
// no request asked for, or an answer cut by the connection's end fail the request (failures.ts names them)
// and the connection is closed, never reused. A timeout is one socket timer whose length follows the phase:
// TIMEOUT_CONNECT until connected, TIMEOUT_SERVER until the answer's head, TIMEOUT_SERVER_IDLE between body
// bytes, and the keep-alive time while idle. While the client reads slower than the upstream sends, the
// upstream's socket is paused and its timer off: a slow client is not the upstream's failure.
import { connect as netConnect, type Socket } from 'node:net'
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls'
import { BadAnswerError, ClosedEarlyError, TIMEOUT_ERRORS, type TimeoutPhase } from './errors.js'
import { HTTPParser, type Parser } from './llhttp.js'

export interface UpstreamRequest {
  method: string
  /** The request-target, origin form. */
  path: string
  /** Name/value pairs, flat, as sent. */
  headers: readonly string[]
  /** TIMEOUT_SERVER: how long the answer's head may take. */
  headersTimeout: number
  /** TIMEOUT_SERVER_IDLE: how long the body may pause. */
  bodyTimeout: number
}

/** What one request hears of its answer. */
export interface AnswerHandler {
  /** The request is on its way; abort() cancels it (its connection closes). */
  onConnect(abort: () => void): void
  /** A head: 1xx ones first, then the final one. Fields flat, as sent; resume() after onData said false. */
  onHeaders(statusCode: number, fields: string[], resume: () => void): void
  /** A piece of the body. false: read no more until resume(). */
  onData(chunk: Buffer): boolean
  onComplete(): void
  onError(error: Error): void
}

export interface Destination {
  address: string
  port: number
  /** An https:// upstream's TLS name and trust; undefined for http://. */
  tls: ConnectionOptions | undefined
  connectTimeoutMs: number
}

/** What a connection tells its pool. */
export interface ConnectionOwner {
  connected(connection: UpstreamConnection): void
  /** Its answer is complete and it can carry another request. */
  released(connection: UpstreamConnection): void
  /** It is closed. */
  gone(connection: UpstreamConnection): void
}

type Phase = TimeoutPhase | 'idle'

export class UpstreamConnection {
  /** When the pool retires it: the request it carries after this is its last. */
  retireAt = Number.POSITIVE_INFINITY
  /** The upstream's own `Keep-Alive: timeout=`, in ms, less a second for the way back, when it sent one. */
  keepAliveMs: number | undefined
  private readonly socket: Socket
  private readonly parser: Parser
  private phase: Phase = 'connect'
  private handler: AnswerHandler | undefined
  private request: UpstreamRequest | undefined
  /** Fields llhttp handed over before the head was complete (more than 32 of them). */
  private fields: string[] = []
  /** The final (non-1xx) head has come. */
  private final = false
  /** The answer leaves the connection open for another request. */
  private reusable = false
  /** The answer completed during the last parse: the connection goes back to its pool, or closes. */
  private done = false
  private paused = false
  /** What the last parse found wrong, failed once the parse returns. */
  private broken: Error | undefined

  constructor(
    destination: Destination,
    private readonly owner: ConnectionOwner,
  ) {
    const { address, port, tls, connectTimeoutMs } = destination
    this.socket = tls ? tlsConnect({ host: address, port, ...tls }) : netConnect({ host: address, port })
    this.socket.setNoDelay(true)
    this.socket.setTimeout(connectTimeoutMs)
    this.socket.once(tls ? 'secureConnect' : 'connect', () => this.connected())
    this.socket.on('data', (data: Buffer) => this.read(data))
    this.socket.on('end', () => this.ended())
    this.socket.on('timeout', () => this.timedOut())
    this.socket.on('error', (error) => this.fail(error))
    this.socket.on('close', () => this.closed())
    this.parser = this.createParser()
  }

  /**
   * Sends one request: `head` from request-head.ts. `Connection: keep-alive` even to HTTP/1.1 (an
   * HTTP/1.0 upstream closes without it); `last` asks for close instead.
   */
  send(head: string, last: boolean, request: UpstreamRequest, handler: AnswerHandler): void {
    this.handler = handler
    this.request = request
    this.final = false
    this.socket.ref()
    this.reusable = !last
    handler.onConnect(this.abort)
    if (this.phase !== 'connect') this.wait('head', request.headersTimeout)
    this.socket.write(`${head}connection: ${last ? 'close' : 'keep-alive'}\r\n\r\n`, 'latin1')
  }

  /** Back in its pool: closes itself after `ms` idle, and keeps no process alive meanwhile. */
  idle(ms: number): void {
    this.socket.unref()
    this.wait('idle', ms)
  }

  destroy(): void {
    this.socket.destroy()
  }

  private readonly abort = (): void => {
    this.handler = undefined
    this.socket.destroy()
  }

  private readonly resume = (): void => {
    if (!this.paused) return
    this.paused = false
    this.socket.resume()
    if (this.handler) this.wait('body', (this.request as UpstreamRequest).bodyTimeout)
  }

  private createParser(): Parser {
    const parser = new HTTPParser()
    parser.initialize(HTTPParser.RESPONSE, {}, 0, HTTPParser.kLenientNone)
    parser[HTTPParser.kOnMessageBegin] = () => {
      if (!this.handler)
        this.broken ??= new BadAnswerError('the upstream sent an answer no request asked for')
    }
    parser[HTTPParser.kOnHeaders] = (fields: string[]) => {
      for (const field of fields) this.fields.push(field)
    }
    parser[HTTPParser.kOnHeadersComplete] = (...head: unknown[]) =>
      this.head(head[2] as string[] | undefined, head[5] as number, head[8] as boolean, head[1] as number)
    parser[HTTPParser.kOnBody] = (chunk: Buffer) => this.body(chunk)
    parser[HTTPParser.kOnMessageComplete] = () => this.complete()
    return parser
  }

  private wait(phase: Phase, ms: number): void {
    this.phase = phase
    this.socket.setTimeout(ms)
  }

  private connected(): void {
    this.owner.connected(this)
    if (this.phase === 'connect') this.wait('head', (this.request as UpstreamRequest).headersTimeout)
  }

  private read(data: Buffer): void {
    const parsed = this.parser.execute(data)
    if (typeof parsed !== 'number') return this.fail(parsed)
    this.parsed()
  }

  /** After a parse: fail what it found wrong, or hand a finished connection back. */
  private parsed(): void {
    if (this.broken) return this.fail(this.broken)
    if (!this.done) return
    this.done = false
    if (this.reusable && !this.socket.destroyed) this.owner.released(this)
    else this.socket.destroy()
  }

  /** llhttp's head callback: returns 1 when the answer has no body to read (a HEAD's). */
  private head(fields: string[] | undefined, statusCode: number, keepAlive: boolean, minor: number): number {
    const handler = this.handler
    const all = fields ?? this.fields
    this.fields = []
    if (!handler || this.broken) return 0
    // RFC 9110 section 15: a status has three digits from 100; a 101 was never asked for here.
    if (statusCode < 100 || statusCode === 101) {
      this.broken = new BadAnswerError(`the upstream answered with status ${statusCode}`)
      return 1
    }
    const request = this.request as UpstreamRequest
    if (statusCode >= 200) {
      this.final = true
      // llhttp judges keep-alive by the body's framing too, and a HEAD's answer has no body to frame.
      this.reusable &&= request.method === 'HEAD' ? persistent(all, minor) : keepAlive
      this.keepAliveMs = keepAliveHint(all) ?? this.keepAliveMs
      this.wait('body', request.bodyTimeout)
    }
    handler.onHeaders(statusCode, all, this.resume)
    return request.method === 'HEAD' && statusCode >= 200 ? 1 : 0
  }

  private body(chunk: Buffer): void {
    const handler = this.handler
    if (!handler || this.broken || handler.onData(chunk) || this.paused) return
    this.paused = true
    this.socket.pause()
    this.socket.setTimeout(0)
  }

  private complete(): void {
    const handler = this.handler
    // A 1xx is complete at its head: the final answer is still to come.
    if (!handler || this.broken || !this.final) return
    this.handler = undefined
    this.done = true
    if (this.paused) this.resume()
    handler.onComplete()
  }

  /** The upstream closed its side: that ends a body framed by the connection, and cuts any other. */
  private ended(): void {
    if (!this.handler) return
    this.parser.finish()
    if (this.handler) return this.fail(new ClosedEarlyError())
    this.parsed()
  }

  private timedOut(): void {
    if (this.phase === 'idle') {
      this.socket.destroy()
      return
    }
    this.fail(new TIMEOUT_ERRORS[this.phase]())
  }

  private fail(error: Error): void {
    const handler = this.handler
    this.handler = undefined
    this.socket.destroy()
    handler?.onError(error)
  }

  private closed(): void {
    this.owner.gone(this)
    this.parser.close()
    const handler = this.handler
    this.handler = undefined
    handler?.onError(new ClosedEarlyError())
  }
}

/** RFC 9112 section 9.3: HTTP/1.1 persists unless Connection says close; HTTP/1.0 only if it says keep-alive. */
function persistent(fields: readonly string[], minor: number): boolean {
  let connection = ''
  for (let i = 0; i < fields.length; i += 2) {
    if ((fields[i] as string).toLowerCase() === 'connection') connection += `,${fields[i + 1] as string}`
  }
  const tokens = connection
    .toLowerCase()
    .split(',')
    .map((token) => token.trim())
  return tokens.includes('close') ? false : minor >= 1 || tokens.includes('keep-alive')
}

/** `Keep-Alive: timeout=N` (RFC 2068 section 19.7.1.1), in ms less one second; undefined without one. */
function keepAliveHint(fields: readonly string[]): number | undefined {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string
    if (name.length !== 10 || name.toLowerCase() !== 'keep-alive') continue
    const seconds = /timeout\s*=\s*(\d+)/i.exec(fields[i + 1] as string)?.[1]
    if (seconds !== undefined) return Math.max(Number(seconds) * 1000 - 1000, 0)
  }
  return undefined
}
