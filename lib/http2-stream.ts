// An HTTP/2 request with no body, served on node:http2's stream API (`stream`, `stream.respond()`) instead
// of its compatibility layer: node:http2 builds a Readable request and a Stream response per stream there,
// with a dozen listeners on the stream, and that doubles what a bare server spends on a small answer
// (51 against 29 µs of CPU a request on Node 26, docs/performance.md). These two hold just what colorproxy
// reads and calls on a request and its response, with the compatibility layer's meaning: a stream closed
// under them is written to no more, the answer's head goes with its first byte (or its end), and a stream's
// errors never reach the process. A request with a body, CONNECT and Expect stay the compatibility layer's.
import type {
  IncomingHttpHeaders,
  OutgoingHttpHeaders,
  ServerHttp2Session,
  ServerHttp2Stream,
} from 'node:http2'

/** What colorproxy reads of the client's socket: the stream's state, the connection's address and tags. */
export class StreamSocket {
  readonly encrypted = true
  readonly remoteAddress: string | undefined
  /** The TCP socket under TLS, where a PROXY protocol header's address is kept. */
  readonly _parent: unknown

  constructor(private readonly stream: ServerHttp2Stream) {
    // A stream is handed over with its session: the socket is read now, as the stream forgets it once closed.
    const session = stream.session as ServerHttp2Session
    const socket = session.socket as unknown as { remoteAddress?: string; _parent?: unknown }
    this.remoteAddress = socket.remoteAddress
    this._parent = socket._parent
  }

  /** As the compatibility layer's socket: destroyed once this stream is. */
  get destroyed(): boolean {
    return this.stream.destroyed
  }
}

/** The request: its headers ended the stream, so it is complete from the start. */
export class StreamRequest {
  readonly httpVersionMajor = 2
  readonly httpVersionMinor = 0
  readonly httpVersion = '2.0'
  readonly complete = true
  readonly socket: StreamSocket

  constructor(
    readonly stream: ServerHttp2Stream,
    readonly headers: IncomingHttpHeaders,
    readonly rawHeaders: string[],
  ) {
    this.socket = new StreamSocket(stream)
  }

  get method(): string {
    return this.headers[':method'] as string
  }

  get url(): string {
    return this.headers[':path'] as string
  }
}

/** The response: a status and fields set until its head is sent, then its body, then its end. */
export class StreamResponse {
  statusCode = 200
  /** HTTP/1.1's keep-alive choice, set by code that serves both: an HTTP/2 stream has none to make. */
  shouldKeepAlive = true
  /** The body's bytes written, for the access log (streams share their connection's socket). */
  bytesSent = 0
  private fields: OutgoingHttpHeaders = Object.create(null) as OutgoingHttpHeaders
  private ended = false

  constructor(readonly stream: ServerHttp2Stream) {
    // As the compatibility layer: a stream's error (a reset, a write after the client left) is its own.
    stream.on('error', ignore)
  }

  get headersSent(): boolean {
    return this.stream.headersSent
  }

  get writableFinished(): boolean {
    return this.stream.writableFinished
  }

  get errored(): Error | null {
    return this.stream.errored
  }

  setHeader(name: string, value: number | string | string[]): this {
    if (this.stream.headersSent) throw new Error(`${name}: the answer's head is already sent`)
    const field = name.toLowerCase()
    // RFC 9113 section 8.2.2: never on HTTP/2 (the compatibility layer drops it too).
    if (field !== 'connection') this.fields[field] = value
    return this
  }

  writeHead(statusCode: number, fields?: OutgoingHttpHeaders): this {
    this.statusCode = statusCode
    for (const name in fields) this.setHeader(name, fields[name] as string)
    this.respond(false)
    return this
  }

  /** RFC 8297: a 103 before the final answer. */
  writeEarlyHints(hints: { link: string | string[] }): void {
    if (this.open() && !this.stream.headersSent)
      this.stream.additionalHeaders({ ':status': 103, link: hints.link })
  }

  write(chunk: Buffer | string): boolean {
    if (!this.open() || this.ended) return false
    this.respond(false)
    // HEAD, 204 and 304: node:http2 ended the stream with the head; there is no body to write.
    if (this.stream.writableEnded) return true
    this.bytesSent += byteLength(chunk)
    return this.stream.write(chunk)
  }

  /** Ends the answer: its head and a body of one chunk go out together when nothing was written yet. */
  end(chunk?: Buffer | string): this {
    if (this.ended) return this
    this.ended = true
    if (!this.open()) return this
    const body = chunk !== undefined && chunk.length > 0 ? chunk : undefined
    this.respond(body === undefined)
    if (this.stream.writableEnded) return this
    if (body !== undefined) this.bytesSent += byteLength(body)
    this.stream.end(body)
    return this
  }

  destroy(error?: Error): void {
    this.stream.destroy(error)
  }

  once(event: 'close' | 'drain', listener: () => void): this {
    this.stream.once(event, listener)
    return this
  }

  /** The stream can still be written: the client has not reset it, nor closed the session. */
  private open(): boolean {
    return !this.stream.destroyed && !this.stream.closed
  }

  private respond(endStream: boolean): void {
    if (this.stream.headersSent || !this.open()) return
    this.fields[':status'] = this.statusCode
    this.stream.respond(this.fields, { endStream })
  }
}

const ignore = (): void => {}

const byteLength = (chunk: Buffer | string): number =>
  typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength
