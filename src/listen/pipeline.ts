// Serial pipelining: a client connection has at most one request in flight upstream at a time.
//
// Node's server parses every pipelined request a read brings and emits them all at once; forwarded as they
// came, 2,000 pipelined GETs in one write opened 2,000 upstream connections, and a pipelined DELETE ran
// before the POST ahead of it was answered. RFC 9112 section 9.3.2 allows a server to process only safe
// methods in parallel, and a proxy cannot know which requests depend on each other: like nginx and HAProxy,
// colorproxy starts a connection's next request once the one before it is answered (its response closed).
//
// Parsed requests waiting for their turn are held per connection up to MAX_PIPELINED; at that bound the
// socket stops reading (the kernel holds the rest, and TCP's window pushes back on the client) until the
// queue is below it again. Node's parser parses a whole read at once (at most 64 KiB), so one read of tiny
// requests can put more than the bound in memory: never more than that read, a few MB at worst.
// A keep-alive client that does not pipeline pays one property read and one 'close' listener per request.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

/** Parsed requests a connection may hold waiting for their turn before its socket stops reading. */
export const MAX_PIPELINED = 16

type Handler<A> = (req: IncomingMessage, res: ServerResponse, admitted: A) => void

/** One connection's line: whether a request is in flight, and who waits behind it. */
interface Line {
  busy: boolean
  waiting: (() => void)[]
  /** The socket stopped reading because the line is full. */
  stopped: boolean
  /** The request in flight is answered: the next one starts (one function per connection). */
  next: () => void
}

const LINE = Symbol('colorproxy.pipeline')

/** The socket's own stream handle: reads stop there (socket.pause() does not stop Node's server parser). */
interface Handle {
  reading: boolean
  readStop(): number
  readStart(): number
}

/** Wraps a request handler so that each connection's requests run one after another. */
export function serialize<A>(handler: Handler<A>): Handler<A> {
  const start = (req: IncomingMessage, res: ServerResponse, admitted: A, line: Line) => {
    res.on('close', line.next)
    handler(req, res, admitted)
  }
  return (req, res, admitted) => {
    const line = lineOf(req.socket)
    if (!line.busy) {
      line.busy = true
      return start(req, res, admitted, line)
    }
    wait(req.socket, line, () => start(req, res, admitted, line))
  }
}

/**
 * Runs `start` when the connection has nothing in flight (now, or after the requests ahead of it); for
 * what is not a request with a response to wait for, such as a WebSocket upgrade (it ends the line).
 */
export function whenIdle(socket: Duplex, start: () => void): void {
  const line = lineOf(socket)
  if (!line.busy) {
    line.busy = true
    return start()
  }
  wait(socket, line, start)
}

/** The socket reads no more (a connection whose parser failed). */
export function stopReading(socket: Duplex): void {
  const handle = handleOf(socket)
  if (handle === undefined) return
  handle.reading = false
  handle.readStop()
}

function lineOf(socket: Duplex): Line {
  const own = socket as { [LINE]?: Line }
  let line = own[LINE]
  if (line === undefined) {
    const created: Line = { busy: false, waiting: [], stopped: false, next: () => next(socket, created) }
    line = own[LINE] = created
  }
  return line
}

function wait(socket: Duplex, line: Line, start: () => void): void {
  line.waiting.push(start)
  if (line.waiting.length < MAX_PIPELINED || line.stopped) return
  line.stopped = true
  stopReading(socket)
}

function next(socket: Duplex, line: Line): void {
  // The client is gone: what it pipelined behind is never forwarded.
  if (socket.destroyed) line.waiting = []
  const start = line.waiting.shift()
  if (line.stopped && line.waiting.length < MAX_PIPELINED) {
    line.stopped = false
    const handle = handleOf(socket)
    if (handle !== undefined && !socket.destroyed) {
      handle.reading = true
      handle.readStart()
    }
  }
  if (start === undefined) {
    line.busy = false
    return
  }
  start()
}

function handleOf(socket: Duplex): Handle | undefined {
  return (socket as { _handle?: Handle | null })._handle ?? undefined
}
