// UPSTREAM_MAX_CONNECTIONS, UPSTREAM_MAX_PENDING and TIMEOUT_QUEUE for one color of one site: every
// connection to its upstream counts, whatever carries it (the own keep-alive pools, uploads' node:http
// agent, a WebSocket tunnel) and whichever address it goes to. Envoy's circuit breakers default to 1,024
// connections and 1,024 pending requests per cluster; HAProxy queues beyond a server's maxconn for
// `timeout queue`, then answers 503. Here a request that finds no free connection waits in line, at most
// UPSTREAM_MAX_PENDING of them and none longer than TIMEOUT_QUEUE; past either it fails at once with
// EUPSTREAMOVERLOADED (failures.ts: 503 upstream_overloaded).
//
// A waiter is given a slot (it opens a connection of its own), or, if it can use one, a kept connection
// that has just finished its request. When a line forms while connections sit idle elsewhere (another
// address, the upload agent), one of them is closed to make room.
import { OverloadedError } from './errors.js'

export interface LimitOptions {
  /** UPSTREAM_MAX_CONNECTIONS */
  maxConnections: number
  /** UPSTREAM_MAX_PENDING */
  maxPending: number
  /** TIMEOUT_QUEUE */
  queueTimeoutMs: number
}

/** Something waiting for a connection. */
export interface Waiter<C> {
  /** A slot is its: it opens its connection now (and releases the slot when that closes). */
  granted(): void
  /** Takes a kept connection that just became free; absent: this waiter needs a new connection. */
  reuse?(connection: C): void
  /** No connection in time, or the line is full. */
  refused(error: Error): void
}

interface Entry<C> {
  waiter: Waiter<C>
  timer: NodeJS.Timeout
}

export class ConnectionLimit<C> {
  /** Connections open now (or being opened). */
  open = 0
  private readonly line: Entry<C>[] = []

  /** `closeIdle`: closes (or hands over) one idle connection of this color; false when there is none. */
  constructor(
    private readonly options: LimitOptions,
    private readonly closeIdle: () => boolean,
  ) {}

  /** Takes a slot at once if one is free (the caller opens a connection), else false. */
  tryAcquire(): boolean {
    if (this.open >= this.options.maxConnections) return false
    this.open++
    return true
  }

  /** A slot when one frees (or a kept connection, for a waiter that can reuse one), or a refusal. */
  wait(waiter: Waiter<C>): void {
    if (this.tryAcquire()) return waiter.granted()
    const entry: Entry<C> = {
      waiter,
      timer: setTimeout(() => this.expire(entry), this.options.queueTimeoutMs),
    }
    this.line.push(entry)
    // An idle connection made room (handed over, or closing): the line may pass its bound by that many.
    if (this.closeIdle() || this.line.length <= this.options.maxPending) return
    this.line.pop()
    clearTimeout(entry.timer)
    waiter.refused(new OverloadedError('every upstream connection is busy and UPSTREAM_MAX_PENDING wait'))
  }

  /** A connection closed: its slot goes to the first in line, or back to the pool. */
  release(): void {
    const entry = this.line.shift()
    if (entry === undefined) {
      this.open--
      return
    }
    clearTimeout(entry.timer)
    entry.waiter.granted()
  }

  /**
   * A kept connection finished its request: true when the first in line took it. When that one needs a
   * connection of its own, false, and the caller closes this one so that its slot frees.
   */
  handOver(connection: C): boolean {
    const first = this.line[0]
    if (first?.waiter.reuse === undefined) return false
    this.line.shift()
    clearTimeout(first.timer)
    first.waiter.reuse(connection)
    return true
  }

  /** Somebody waits for a slot. */
  get wanted(): boolean {
    return this.line.length > 0
  }

  private expire(entry: Entry<C>): void {
    // Its timer is cleared whenever it leaves the line otherwise: it is in the line.
    this.line.splice(this.line.indexOf(entry), 1)
    entry.waiter.refused(new OverloadedError('no upstream connection was free within TIMEOUT_QUEUE'))
  }
}
