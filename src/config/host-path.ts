// Hosts and paths as sites name them and requests bring them: one normal form, read the same way by the
// config (SITES' <SITE>_HOSTS and <SITE>_PATHS) and by the matcher (route/site-match.ts) at each request.
import { domainToASCII } from 'node:url'

/**
 * `Shop.Example.COM.:8443` → `shop.example.com`; `[::1]:80` → `[::1]`; a UTF-8 name → its punycode.
 * Undefined when there is no usable host.
 */
export function normalizeHost(host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined
  let name = host
  if (name.charCodeAt(0) === 0x5b /* [ */) {
    const end = name.indexOf(']')
    return end < 0 ? undefined : name.slice(0, end + 1).toLowerCase()
  }
  const colon = name.indexOf(':')
  if (colon >= 0) name = name.slice(0, colon)
  while (name.endsWith('.')) name = name.slice(0, -1)
  // Header values arrive as latin1: a raw UTF-8 name is read back as UTF-8, then as punycode.
  if (/[\u0080-\uffff]/.test(name))
    return domainToASCII(Buffer.from(name, 'latin1').toString('utf8')) || undefined
  return name.toLowerCase()
}

/** `/a//b%20c/?q` → `['a', 'b c']`: the decoded, non-empty segments of the path part. */
export function pathSegments(path: string): string[] {
  const query = path.indexOf('?')
  const part = query < 0 ? path : path.slice(0, query)
  const segments: string[] = []
  for (const raw of part.split('/')) if (raw !== '') segments.push(decodeSegment(raw))
  return segments
}

/** Percent-decoded, except `%2F` (kept as written, upper-cased) and bytes that are not UTF-8 (kept as is). */
function decodeSegment(raw: string): string {
  if (!raw.includes('%')) return raw
  try {
    return decodeURIComponent(raw.replace(/%2f/gi, '%252F'))
  } catch {
    return raw
  }
}
