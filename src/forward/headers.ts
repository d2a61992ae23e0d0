// The client's header fields an upstream may receive. Everything hop-by-hop is removed *first*, from the
// client's fields only; colorproxy adds its own afterwards (requestFields, attemptFields), so no Connection
// token can remove the color header, a framing header or Host, and no client field can stand in for one of
// ours. Also here: the request id, and the upstream's base path joined to the request's.
import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { Forwarded } from './x-forwarded.js'

/** At most this many header fields in a request (431 above) or a response (502 above), as HAProxy. */
export const MAX_HEADER_FIELDS = 100

// RFC 9110 section 7.6.1 and RFC 9112 section 6.1: hop-by-hop fields, and the older ones proxies still meet.
// Transfer-Encoding and Expect belong to this hop: the body is framed again, and 100 Continue is Node's.
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'expect',
])

/** Fields a Connection token never removes: the message's framing and its Host. */
const PROTECTED: ReadonlySet<string> = new Set(['content-length', 'host'])

/**
 * The client's end-to-end fields, as a flat name/value list in the client's order and spelling.
 * `ours` (lower case) are the fields colorproxy sets itself: a client's are dropped, and so is a name with
 * `_` that reads as one of them or as a framing field once `_` is `-` (CGI and WSGI backends do read it so;
 * nginx drops such names by default).
 */
export function endToEndFields(
  rawHeaders: readonly string[],
  connection: string | undefined,
  ours: ReadonlySet<string>,
): string[] {
  const named = connectionTokens(connection)
  const fields: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string
    // HTTP/2's pseudo-header fields (`:path`, `:authority`) belong to the client's hop.
    if (name.charCodeAt(0) === 0x3a) continue
    const key = name.toLowerCase()
    if (ours.has(key) || HOP_BY_HOP.has(key)) continue
    if (named !== undefined && named.has(key) && !PROTECTED.has(key)) continue
    if (key.includes('_')) {
      const read = key.replaceAll('_', '-')
      if (ours.has(read) || HOP_BY_HOP.has(read) || PROTECTED.has(read)) continue
    }
    fields.push(name, rawHeaders[i + 1] as string)
  }
  return fields
}

/** The field names a Connection header lists, beyond the usual `close` / `keep-alive`. */
function connectionTokens(connection: string | undefined): Set<string> | undefined {
  if (connection === undefined) return undefined
  const lower = connection.toLowerCase()
  if (lower === 'keep-alive' || lower === 'close') return undefined
  return new Set(lower.split(',').map((token) => token.trim()))
}

/** Removes hop-by-hop fields, and the ones the upstream's Connection names, from a response's headers. */
export function stripResponseHopByHop(headers: Record<string, string | string[] | undefined>): void {
  const connection = headers.connection === undefined ? undefined : String(headers.connection)
  for (const name of connectionTokens(connection) ?? []) {
    if (!PROTECTED.has(name) && name !== 'transfer-encoding') delete headers[name]
  }
  for (const name of HOP_BY_HOP) if (name !== 'transfer-encoding') delete headers[name]
}

/**
 * The fields colorproxy sets itself (lower case, with the color header's name): a client's are dropped.
 * With USERS, Authorization too: the credentials were for colorproxy.
 */
export function ownFields(colorHeader: string, basicAuth = false): ReadonlySet<string> {
  const fields = new Set([
    'host',
    colorHeader.toLowerCase(),
    'x-request-id',
    'x-forwarded-for',
    'x-forwarded-host',
    'x-forwarded-proto',
    'x-forwarded-port',
    'x-forwarded-prefix',
  ])
  if (basicAuth) fields.add('authorization')
  return fields
}

const MAX_REQUEST_ID = 200

/** The client's X-Request-Id if it is printable and short, else a new one. */
export function requestId(given: string | string[] | undefined): string {
  return typeof given === 'string' &&
    given.length > 0 &&
    given.length <= MAX_REQUEST_ID &&
    /^[\x21-\x7e]+$/.test(given)
    ? given
    : randomUUID()
}

/**
 * The fields every attempt sends: the client's end-to-end ones, then ours. Host and the color come per
 * attempt (a failover changes both).
 */
export function requestFields(
  rawHeaders: readonly string[],
  connection: string | undefined,
  ours: ReadonlySet<string>,
  id: string,
  forwarded: Forwarded,
): string[] {
  const fields = endToEndFields(rawHeaders, connection, ours)
  fields.push(
    'x-request-id',
    id,
    'x-forwarded-for',
    forwarded.for,
    'x-forwarded-host',
    forwarded.host,
    'x-forwarded-proto',
    forwarded.proto,
    'x-forwarded-port',
    forwarded.port,
  )
  if (forwarded.prefix !== undefined) fields.push('x-forwarded-prefix', forwarded.prefix)
  return fields
}

/** One attempt's fields: Host and the color added; an upstream URL's credentials replace the client's. */
export function attemptFields(
  base: readonly string[],
  added: { host: string; colorHeader: string; color: string; authorization: string | undefined },
): string[] {
  const { host, colorHeader, color, authorization } = added
  if (authorization === undefined) return [...base, 'host', host, colorHeader, color]
  const fields: string[] = []
  for (let i = 0; i < base.length; i += 2) {
    if ((base[i] as string).toLowerCase() !== 'authorization')
      fields.push(base[i] as string, base[i + 1] as string)
  }
  fields.push('host', host, colorHeader, color, 'authorization', authorization)
  return fields
}

/** A flat name/value list as Node's header object (lower-case names, repeated fields joined). */
export function headerObject(fields: readonly string[]): IncomingHttpHeaders {
  const headers: Record<string, string> = {}
  for (let i = 0; i < fields.length; i += 2) {
    const name = (fields[i] as string).toLowerCase()
    const value = fields[i + 1] as string
    const given = headers[name]
    headers[name] = given === undefined ? value : `${given}${name === 'cookie' ? '; ' : ', '}${value}`
  }
  return headers
}

/**
 * An answer's flat name/value list as Node's header object: lower-case names, a repeated field kept as an
 * array of its values (Set-Cookie must never be joined). The object has no prototype, so a field named
 * `__proto__` is a field like any other.
 */
export function answerHeaders(fields: readonly string[]): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = Object.create(null)
  for (let i = 0; i < fields.length; i += 2) {
    const name = (fields[i] as string).toLowerCase()
    const value = fields[i + 1] as string
    const given = headers[name]
    if (given === undefined) headers[name] = value
    else if (typeof given === 'string') headers[name] = [given, value]
    else given.push(value)
  }
  return headers
}

/** The upstream's base path joined to the request's path: `/base/` + `/a?x=1` → `/base/a?x=1`. */
export function joinPath(base: string, path: string): string {
  if (base === '/' || base === '') return path
  return base.endsWith('/') && path.startsWith('/') ? base + path.slice(1) : base + path
}
