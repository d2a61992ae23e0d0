// HTTP/2 requests on the TLS listener, admitted by the same rules as HTTP/1.1 requests (admission.ts) and
// then passed to the same gate, router and forwarder. A request whose headers end its stream (GET, HEAD, a
// bodiless DELETE) is served on node:http2's stream API (lib/http2-stream.ts); one with a body, CONNECT or
// an Expect takes node:http2's compatibility request and response, which stream the body. The upstream gets
// HTTP/1.1. `:authority` is the Host (RFC 9113 section 8.3.1); pseudo-header fields never reach an
// upstream (headers.ts skips them); a request body must arrive within TIMEOUT_CLIENT. A stream that fails
// is reset on its own: the session and its other streams go on.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2SecureServer, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import { StreamRequest, StreamResponse } from '../../lib/http2-stream.js'
import type { Config } from '../config/load.js'
import { type Admitted, refuse } from '../forward/exchange.js'
import { createAdmission } from './admission.js'

type Pass = (req: IncomingMessage, res: ServerResponse, admitted: Admitted) => void

interface Http2Request {
  stream: { endAfterHeaders: boolean }
}

export function serveHttp2(
  config: Pick<Config, 'trustedProxies' | 'clients' | 'timeouts'>,
  app: { forwardOptions: Parameters<typeof refuse>[0] },
) {
  const admit = createAdmission(config, 'https')
  return (req: IncomingMessage, res: ServerResponse, pass: Pass): void => {
    const admitted = admit(req)
    if ('status' in admitted) return refuse(app.forwardOptions, req, res, admitted)
    const { stream } = req as unknown as Http2Request
    if (!stream.endAfterHeaders) bodyDeadline(req, res, config.timeouts.clientMs)
    pass(req, res, admitted)
  }
}

/**
 * TIMEOUT_CLIENT for an HTTP/2 request's body: then the stream is reset (its upload to the upstream goes
 * with it), as HTTP/1.1's connection is closed. Only this stream: the session's others go on.
 */
function bodyDeadline(req: IncomingMessage, res: ServerResponse, clientMs: number): void {
  const timer = setTimeout(() => res.destroy(), clientMs)
  const stop = () => clearTimeout(timer)
  req.once('end', stop)
  res.once('close', stop)
}

type StreamListener = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
  rawHeaders: string[],
) => void

/**
 * Takes the server's streams from node:http2's compatibility handler (added with the first 'request'
 * listener: the one in `server.listeners('stream')` that is not in `before`) and hands it only those that
 * need it; a bodiless request goes to `serve` on the stream API. Without exactly one such handler, every
 * stream stays the compatibility layer's.
 */
export function serveStreams(
  server: Http2SecureServer,
  before: readonly unknown[],
  serve: (req: IncomingMessage, res: ServerResponse) => void,
): void {
  const added = server.listeners('stream').filter((listener) => !before.includes(listener))
  const compat = added[0] as StreamListener | undefined
  if (added.length !== 1 || compat === undefined) return
  server.removeListener('stream', compat)
  server.on(
    'stream',
    (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      if (!stream.endAfterHeaders || headers[':method'] === 'CONNECT' || headers.expect !== undefined)
        return compat.call(server, stream, headers, flags, rawHeaders)
      const req = new StreamRequest(stream, headers, rawHeaders)
      serve(req as unknown as IncomingMessage, new StreamResponse(stream) as unknown as ServerResponse)
    },
  )
}
