// How many bytes a client was sent for one response, for the access log. HTTP/1.x: what its socket wrote
// meanwhile (head and body; requests on one connection take turns). HTTP/2: streams share the connection,
// so the response's own body bytes, counted as they are written (by the stream API's response itself).
import type { IncomingMessage, ServerResponse } from 'node:http'
import { StreamResponse } from '../../lib/http2-stream.js'

type Write = (chunk: unknown, ...rest: unknown[]) => boolean

export function sentBytes(req: IncomingMessage, res: ServerResponse): () => number {
  if (req.httpVersionMajor !== 2) {
    const before = req.socket.bytesWritten
    return () => req.socket.bytesWritten - before
  }
  if (res instanceof StreamResponse) return () => res.bytesSent
  let bytes = 0
  const count = (chunk: unknown) => {
    if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk)
    else if (chunk instanceof Uint8Array) bytes += chunk.byteLength
  }
  const { write, end } = res as unknown as { write: Write; end: Write }
  Object.assign(res, {
    write(chunk: unknown, ...rest: unknown[]) {
      count(chunk)
      return write.call(res, chunk, ...rest)
    },
    end(chunk: unknown, ...rest: unknown[]) {
      count(chunk)
      return end.call(res, chunk, ...rest)
    },
  })
  return () => bytes
}
