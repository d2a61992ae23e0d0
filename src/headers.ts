// The client's header fields an upstream may receive. Everything hop-by-hop is removed *first*, from the
// client's fields only; colorproxy adds its own afterwards (forward-request.ts), so no Connection token can
// remove the color header, a framing header or Host, and no client field can stand in for one of ours.

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
