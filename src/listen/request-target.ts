// What a request may ask for, decided before any color is chosen, so that a malformed request is the
// client's 4xx and never an upstream error counted against a color.
//
// RFC 9112 section 3.2: origin-form (`/a?b`) is what a reverse proxy serves; absolute-form
// (`http://host/a?b`) is allowed too and means its path and query, with its authority in place of Host;
// authority-form belongs to CONNECT (answered 405 elsewhere) and asterisk-form to server-wide OPTIONS, which
// no upstream of a color can answer for colorproxy: both are refused here.

export type Target =
  | { ok: true; /** origin-form path and query, dot-segments removed */ path: string }
  | { ok: false; status: 400 | 505; text: string }

const refuse = (status: 400 | 505, text: string): Target => ({ ok: false, status, text })

/**
 * Checks a request's version, Host fields and target. `rawHeaders` is Node's flat name/value list, read
 * for duplicate Host fields (Node keeps only the first in `headers`).
 */
export function requestTarget(httpVersionMajor: number, url: string, rawHeaders: readonly string[]): Target {
  // HTTP/0.9 and HTTP/2.0 in a request line reach the handler: this is an HTTP/1.x port.
  if (httpVersionMajor !== 1) return refuse(505, 'this port speaks HTTP/1.0 and HTTP/1.1')
  let host: string | undefined
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).length === 4 && (rawHeaders[i] as string).toLowerCase() === 'host') {
      // RFC 9112 section 3.2: more than one Host field is a 400.
      if (host !== undefined) return refuse(400, 'the request has more than one Host header')
      host = rawHeaders[i + 1] as string
    }
  }
  if (url.charCodeAt(0) === 0x2f /* / */) return { ok: true, path: removeDotSegments(url) }
  if (/^https?:\/\//i.test(url)) return absoluteForm(url, host)
  if (url === '*') return refuse(400, 'the asterisk-form (OPTIONS *) is not forwarded')
  return refuse(400, 'the request target must be a path such as /index.html')
}

/** `http://shop.example.com/a?b` → `/a?b`, when its authority is the Host the client sent. */
function absoluteForm(url: string, host: string | undefined): Target {
  let authority: URL
  try {
    authority = new URL(url)
  } catch {
    return refuse(400, 'the request target is not a valid URL')
  }
  if (authority.username || authority.password) return refuse(400, 'the request target has credentials')
  // Compared as WHATWG URL normalises both: case, IDN, and the scheme's default port.
  if (host === undefined || sameAuthority(authority, host) === false) {
    return refuse(400, 'the request target names another host than the Host header')
  }
  // The path and query as the client wrote them (a URL object would re-encode them).
  const start = url.indexOf('/', url.indexOf('//') + 2)
  const query = url.indexOf('?', url.indexOf('//') + 2)
  const cut = start < 0 ? query : query < 0 ? start : Math.min(start, query)
  const rest = cut < 0 ? '' : url.slice(cut)
  const path = rest.startsWith('/') ? rest : `/${rest}`
  return { ok: true, path: removeDotSegments(path.split('#', 1)[0] as string) }
}

function sameAuthority(target: URL, host: string): boolean {
  try {
    return new URL(`${target.protocol}//${host}`).host === target.host
  } catch {
    return false
  }
}

// A segment that is `.` or `..`, also written with %2e: the only paths that need any work.
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|\?|$)/i

/**
 * RFC 3986 section 5.2.4, on the path part only, comparing `%2e` as `.`: `/a/../b` → `/b`, `/../x` → `/x`,
 * so no request climbs out of an upstream's base path. Other segments keep their encoding exactly.
 */
export function removeDotSegments(target: string): string {
  if (!DOT_SEGMENT.test(target)) return target
  const queryAt = target.indexOf('?')
  const path = queryAt < 0 ? target : target.slice(0, queryAt)
  const query = queryAt < 0 ? '' : target.slice(queryAt)
  const output: string[] = []
  const segments = path.split('/').slice(1)
  segments.forEach((segment, index) => {
    const plain = segment.replace(/%2e/gi, '.')
    const last = index === segments.length - 1
    if (plain === '..') {
      if (output.length > 0) output.pop()
      if (last) output.push('')
    } else if (plain === '.') {
      if (last) output.push('')
    } else output.push(segment)
  })
  return `/${output.join('/')}${query}`
}
