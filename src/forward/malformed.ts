// A request whose chunked body turned out not to parse (listen/malformed-body.ts finds it): marked on the
// request itself, so what forwards it can refuse to start and cancel an upload under way.
import type { IncomingMessage } from 'node:http'

const MALFORMED = Symbol('colorproxy.malformed-body')

type Marked = IncomingMessage & { [MALFORMED]?: true }

/** The body of `req` does not parse: cancel what sends it, and never forward it. */
export function markMalformed(req: IncomingMessage): void {
  ;(req as Marked)[MALFORMED] = true
  req.emit(MALFORMED)
}

/** The request's body did not parse: it must not be forwarded. */
export function isMalformed(req: IncomingMessage): boolean {
  return (req as Marked)[MALFORMED] === true
}

/** `cancel` runs if the request's body turns out not to parse while it is being sent upstream. */
export function onMalformed(req: IncomingMessage, cancel: () => void): void {
  req.once(MALFORMED, cancel)
}
