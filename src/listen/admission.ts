// The checks every request passes before a site or a color is chosen, HTTP/1.x and HTTP/2 alike: an
// HTTP/2 request's CONNECT is refused (405: colorproxy is not a forward proxy; HTTP/1.1's comes as its own
// event, http1.ts) and its `:authority` is the Host (RFC 9113 section 8.3.1); then at most
// MAX_HEADER_FIELDS fields (431, pseudo-header fields not counted), a request target that is a path
// (request-target.ts), and who the client is (X-Forwarded-*). A refusal is never a color's error.
import type { IncomingMessage } from 'node:http'
import { isHttp2Request } from '../../lib/node-http.js'
import type { Config } from '../config/load.js'
import type { Admitted } from '../forward/exchange.js'
import { MAX_HEADER_FIELDS } from '../forward/headers.js'
import { createForwardedReader } from '../forward/x-forwarded.js'
import { requestTarget } from './request-target.js'

/** A request refused before any color: its status, why, and the client it came from (for the log). */
export interface Refusal {
  status: number
  text: string
  headers?: Record<string, string>
  client: string
}

export type Admission = (req: IncomingMessage) => Admitted | Refusal

type Rejected = Omit<Refusal, 'client'>

export function createAdmission(
  config: Pick<Config, 'trustedProxies' | 'clients'>,
  proto: 'http' | 'https',
): Admission {
  const readForwarded = createForwardedReader(config.trustedProxies, config.clients.proxyProtocol)
  return (req) => {
    // A request line that says HTTP/2.0 is HTTP/1.x all the same: only node:http2's requests are HTTP/2.
    const h2 = isHttp2Request(req)
    const rejected = (h2 ? http2Host(req) : undefined) ?? tooManyFields(req)
    if (rejected) return { ...rejected, client: readForwarded(req, proto).client }
    // An HTTP/2 request's target follows HTTP/1.1's rules (:path is origin-form).
    const target = requestTarget(h2 ? 1 : req.httpVersionMajor, req.url as string, req.rawHeaders)
    if (!target.ok)
      return { status: target.status, text: target.text, client: readForwarded(req, proto).client }
    return { path: target.path, forwarded: readForwarded(req, proto) }
  }
}

/** HTTP/2's CONNECT and Host rules; sets `host` from `:authority`. Undefined: admitted. */
function http2Host(req: IncomingMessage): Rejected | undefined {
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
  return undefined
}

/** More than MAX_HEADER_FIELDS fields, HTTP/2's pseudo-header fields (`:path`) not counted: 431. */
function tooManyFields(req: IncomingMessage): Rejected | undefined {
  const raw = req.rawHeaders
  // Most requests are far below: only a long list is counted field by field.
  if (raw.length <= MAX_HEADER_FIELDS * 2) return undefined
  let fields = 0
  for (let i = 0; i < raw.length; i += 2) if (!(raw[i] as string).startsWith(':')) fields++
  if (fields <= MAX_HEADER_FIELDS) return undefined
  return { status: 431, text: `the request has more than ${MAX_HEADER_FIELDS} header fields` }
}
