// HTTP/2 requests on the TLS listener (node:http2's compatibility request and response), admitted by the
// rules HTTP/1.1 requests follow and then passed to the same gate, router and forwarder; the upstream gets
// HTTP/1.1. `:authority` is the Host (RFC 9113 section 8.3.1); pseudo-header fields never reach an
// upstream (headers.ts skips them); a request body must arrive within TIMEOUT_CLIENT. A stream that fails
// is reset on its own: the session and its other streams go on.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Config } from '../config/load.js'
import { type Admitted, refuse } from '../forward/exchange.js'
import { createForwarding } from '../forward/x-forwarded.js'
import { MAX_HEADER_FIELDS } from '../forward/headers.js'
import { requestTarget } from './request-target.js'

type Pass = (req: IncomingMessage, res: ServerResponse, admitted: Admitted) => void
type Refusal = { status: number; text: string; headers?: Record<string, string> }

interface Http2Request {
  stream: { endAfterHeaders: boolean }
}

export function serveHttp2(
  config: Pick<Config, 'trustedProxies' | 'clients' | 'timeouts'>,
  app: { forwardOptions: Parameters<typeof refuse>[0] },
) {
  const forwarding = createForwarding(config.trustedProxies, config.clients.proxyProtocol)
  return (req: IncomingMessage, res: ServerResponse, pass: Pass): void => {
    const refusal = admission(req)
    if (refusal !== undefined) {
      refuse(app.forwardOptions, req, res, { ...refusal, client: forwarding(req, 'https').client })
      return
    }
    const target = requestTarget(1, req.url as string, req.rawHeaders)
    if (!target.ok) {
      refuse(app.forwardOptions, req, res, { ...target, client: forwarding(req, 'https').client })
      return
    }
    const { stream } = req as unknown as Http2Request
    if (!stream.endAfterHeaders) bodyDeadline(req, res, config.timeouts.clientMs)
    pass(req, res, { path: target.path, forwarded: forwarding(req, 'https') })
  }
}

/** The Host, CONNECT and field-count rules; sets `host` from `:authority`. Undefined: admitted. */
function admission(req: IncomingMessage): Refusal | undefined {
  const { headers } = req
  if (req.method === 'CONNECT') {
    return {
      status: 405,
      text: 'CONNECT is not supported: colorproxy is not a forward proxy',
      headers: { allow: 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH' },
    }
  }
  const authority = headers[':authority'] as string | undefined
  if (authority !== undefined && headers.host !== undefined && headers.host !== authority) {
    return { status: 400, text: 'the Host header names another host than :authority' }
  }
  const host = authority ?? headers.host
  if (host === undefined || host === '') return { status: 400, text: 'the request has no :authority' }
  headers.host = host
  let fields = 0
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    if (!(req.rawHeaders[i] as string).startsWith(':')) fields++
  if (fields > MAX_HEADER_FIELDS) {
    return { status: 431, text: `the request has more than ${MAX_HEADER_FIELDS} header fields` }
  }
  return undefined
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
