// The keep-alive connections to one upstream address (connection.ts), and their ages.
//
// A request takes the connection used last (idle ones past their keep-alive close on their own), or opens a
// new one while its color's limit allows (connection-limit.ts), or waits in that limit's line. Behind a Swarm VIP a kept connection
// pins one task, so each connection is retired by age: its limit is drawn between half and all of
// UPSTREAM_MAX_SOCKET_AGE when it connects, and the request it carries past that limit asks the upstream to
// close after answering. Connections opened together (a burst of load) are thus not all reopened together,
// which was a latency spike of up to 750 ms at c=256.
import type { ConnectionLimit } from './connection-limit.js'
import { requestHead } from './request-head.js'
import {
  type AnswerHandler,
  type ConnectionOwner,
  type Destination,
  UpstreamConnection,
  type UpstreamRequest,
} from './connection.js'

export interface PoolOptions {
  destination: Destination
  /** UPSTREAM_KEEP_ALIVE: an idle connection closes after this long (or the upstream's own, if shorter). */
  keepAliveMs: number
  /** UPSTREAM_MAX_SOCKET_AGE */
  maxAgeMs: number
  now: () => number
  /** Draws a connection's share of maxAgeMs, from 0.5 to 1. */
  random: () => number
  /** The color's connection limit, shared by every address's pool and the upload agent. */
  limit: ConnectionLimit<UpstreamConnection>
}

export class ConnectionPool implements ConnectionOwner {
  /** Idle connections, the one used last at the end. */
  private idle: UpstreamConnection[] = []
  private closing = false

  constructor(private readonly options: PoolOptions) {}

  /** Where its connections go, and how (the TLS name and trust, TIMEOUT_CONNECT). */
  get destination(): Destination {
    return this.options.destination
  }

  /**
   * Sends the request on a kept connection, or a new one when the color's limit has a free slot, or waits
   * in its line (connection-limit.ts) for either.
   */
  dispatch(request: UpstreamRequest, handler: AnswerHandler): void {
    const head = requestHead(request.method, request.path, request.headers)
    if (typeof head !== 'string') return handler.onError(head)
    const kept = this.idle.pop()
    if (kept) return this.sendOn(kept, head, request, handler)
    if (this.options.limit.tryAcquire()) return this.sendOn(this.open(), head, request, handler)
    this.wait(
      handler,
      () => this.sendOn(this.open(), head, request, handler),
      (connection) => this.sendOn(connection, head, request, handler),
    )
  }

  /**
   * Sends the request on a connection of its own, closed after it: for the one retry after a kept
   * connection was reset, which must go out on a new connection.
   */
  fresh(request: UpstreamRequest, handler: AnswerHandler): void {
    const head = requestHead(request.method, request.path, request.headers)
    if (typeof head !== 'string') return handler.onError(head)
    this.wait(handler, () => this.open().send(head, true, request, handler))
  }

  /** In the color's line: a slot (`granted`), a kept connection (`reuse`, when given), or the refusal. */
  private wait(
    handler: AnswerHandler,
    granted: () => void,
    reuse?: (connection: UpstreamConnection) => void,
  ): void {
    this.options.limit.wait({ granted, reuse, refused: (error) => handler.onError(error) })
  }

  /** The most recently used idle connection, for a request of another address that waits (or undefined). */
  takeIdle(): UpstreamConnection | undefined {
    return this.idle.shift()
  }

  private open(): UpstreamConnection {
    return new UpstreamConnection(this.options.destination, this)
  }

  private sendOn(
    connection: UpstreamConnection,
    head: string,
    request: UpstreamRequest,
    handler: AnswerHandler,
  ) {
    const last = this.closing || this.options.now() >= connection.retireAt
    connection.send(head, last, request, handler)
  }

  /** Out of rotation: idle connections close now, busy ones after their answer. */
  close(): void {
    this.closing = true
    for (const connection of this.idle) connection.destroy()
    this.idle = []
  }

  connected(connection: UpstreamConnection): void {
    const { maxAgeMs, now, random } = this.options
    connection.retireAt = now() + maxAgeMs * (1 - random() / 2)
  }

  released(connection: UpstreamConnection): void {
    const keepMs = Math.min(this.options.keepAliveMs, connection.keepAliveMs ?? Number.POSITIVE_INFINITY)
    // An upstream that keeps connections a second or less would close this one as the next request comes.
    if (this.closing || keepMs <= 0) return connection.destroy()
    const { limit } = this.options
    // A request waits for a connection: it takes this one, or (an upload's, a tunnel's) its slot.
    if (limit.wanted) {
      if (!limit.handOver(connection)) connection.destroy()
      return
    }
    this.idle.push(connection)
    connection.idle(keepMs)
  }

  gone(connection: UpstreamConnection): void {
    const index = this.idle.lastIndexOf(connection)
    if (index !== -1) this.idle.splice(index, 1)
    this.options.limit.release()
  }
}
