// A request body that does not parse: a chunk size of `-1`, `0x5` or 17 hex digits, a bad chunk end.
// Node's parser stops there and reports a client error, but the request's head was handed over already
// (it may be on its way upstream, or waiting its turn on a pipelined connection), so Node's own answer
// would be skipped and the connection cut with no status. nginx and HAProxy answer 400: so does colorproxy,
// with `Connection: close`, as long as no answer to that request has started; an upload under way is
// cancelled, so nothing more of it reaches the upstream (which sees its request cut, never completed).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { writePlain } from '../forward/failures.js'
import { markMalformed } from '../forward/malformed.js'
import { stopReading } from './pipeline.js'

const TEXT = '400 the request body is malformed (a chunk does not parse)\n'

/**
 * A client error on `socket`: true when it broke the body of a request already handed over, which is
 * then answered 400 (now, or at its turn) and cancelled upstream.
 */
export function malformedBody(socket: Duplex, error: NodeJS.ErrnoException): boolean {
  // A connection that ends mid-body is a client gone (499), not a body that does not parse.
  if (error.code === 'HPE_INVALID_EOF_STATE') return false
  const req = (socket as { parser?: { incoming?: IncomingMessage | null } | null }).parser?.incoming
  if (req == null || req.complete) return false
  // Node's parser stays in error: no more of this connection is read.
  stopReading(socket)
  markMalformed(req)
  const res = (socket as { _httpMessage?: ServerResponse | null })._httpMessage
  if (res?.req === req) {
    if (res.headersSent) socket.destroy()
    else answerMalformed(res)
  }
  return true
}

export function answerMalformed(res: ServerResponse): void {
  res.shouldKeepAlive = false
  writePlain(res, 400, TEXT)
}
