// Which site serves a request (SITES): built once at startup into maps, so a request costs a few lookups
// whatever the number of sites: its host in a map of exact names, then each of its parent domains in a map
// of wildcards (longest first), then the sites with no host; in each, its path's prefixes by whole segment
// in a map (longest first). The first host level with a matching path wins; then the default site.
//
// Hosts compare as DNS does: case-insensitive, port and trailing dot ignored, IDN as punycode. Paths
// compare by segment, percent-decoded (`/%61pi` is `/api`) with empty segments merged (`//api` is `/api`),
// as the path an upstream is likely to see; dot-segments are already gone (request-target.ts). `%2F` stays
// inside its segment, never a separator: `/api%2Fx` is one segment, `api/x` (as Go and Express read it).
import { normalizeHost, pathSegments } from '../config/host-path.js'

export interface SiteClaim<T> {
  /** Undefined: any host. Exact (`shop.example.com`) or wildcard (`*.example.com`), normalized. */
  hosts: readonly string[] | undefined
  /** Normalized path prefixes: `/`, `/api`. */
  paths: readonly string[]
  site: T
}

export interface SiteMatch<T> {
  site: T
  /** The matched prefix as configured (`/api`; `/` for the root). */
  prefix: string
  /** How many of the path's segments the prefix took: what `STRIP_PATH` removes. */
  depth: number
}

export type SiteMatcher<T> = (host: string | undefined, path: string) => SiteMatch<T> | undefined

/** The prefixes of one host level, by their decoded segments joined with `/`. */
interface PathTable<T> {
  byPrefix: Map<string, { site: T; prefix: string }>
  /** The deepest prefix, in segments: a longer path is cut to this before the first lookup. */
  depth: number
}

export function createSiteMatcher<T>(claims: readonly SiteClaim<T>[], fallback?: T): SiteMatcher<T> {
  const exact = new Map<string, PathTable<T>>()
  const wildcard = new Map<string, PathTable<T>>()
  let any: PathTable<T> | undefined
  const table = (map: Map<string, PathTable<T>>, key: string) => {
    let found = map.get(key)
    if (!found) map.set(key, (found = { byPrefix: new Map(), depth: 0 }))
    return found
  }
  for (const claim of claims) {
    const tables =
      claim.hosts === undefined
        ? [(any ??= { byPrefix: new Map(), depth: 0 })]
        : claim.hosts.map((host) =>
            host.startsWith('*.') ? table(wildcard, host.slice(2)) : table(exact, host),
          )
    for (const into of tables) {
      for (const prefix of claim.paths) {
        const segments = pathSegments(prefix)
        into.byPrefix.set(segments.join('/'), { site: claim.site, prefix })
        into.depth = Math.max(into.depth, segments.length)
      }
    }
  }
  const rootOnly = fallback === undefined ? undefined : { site: fallback, prefix: '/', depth: 0 }
  // One site (no SITES): nothing to look up.
  if (claims.length === 0) return () => rootOnly
  return (hostHeader, path) => {
    let segments: string[] | undefined
    const inTable = (at: PathTable<T> | undefined): SiteMatch<T> | undefined => {
      if (at === undefined) return undefined
      if (at.depth === 0) return at.byPrefix.has('') ? withDepth(at.byPrefix.get(''), 0) : undefined
      segments ??= pathSegments(path)
      return longestPrefix(at, segments)
    }
    const host = normalizeHost(hostHeader)
    if (host !== undefined) {
      const found = inTable(exact.get(host))
      if (found) return found
      for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) {
        const found = inTable(wildcard.get(host.slice(dot + 1)))
        if (found) return found
      }
    }
    return inTable(any) ?? rootOnly
  }
}

function withDepth<T>(entry: { site: T; prefix: string } | undefined, depth: number) {
  return entry && { site: entry.site, prefix: entry.prefix, depth }
}

function longestPrefix<T>(at: PathTable<T>, segments: readonly string[]): SiteMatch<T> | undefined {
  for (let depth = Math.min(at.depth, segments.length); depth >= 0; depth--) {
    const found = at.byPrefix.get(
      depth === segments.length ? segments.join('/') : segments.slice(0, depth).join('/'),
    )
    if (found) return withDepth(found, depth)
  }
  return undefined
}

/**
 * The path with its first `depth` segments taken off (`STRIP_PATH`): `/api/x?y` → `/x?y`, `/api` → `/`,
 * `/api/` → `/`, `//api//x` → `/x`. What is left keeps the client's encoding.
 */
export function stripSegments(path: string, depth: number): string {
  const queryAt = path.indexOf('?')
  const part = queryAt < 0 ? path : path.slice(0, queryAt)
  const query = queryAt < 0 ? '' : path.slice(queryAt)
  let at = 0
  for (let taken = 0; taken < depth; taken++) {
    while (part.charCodeAt(at) === 0x2f) at++
    const next = part.indexOf('/', at)
    at = next < 0 ? part.length : next
  }
  while (part.charCodeAt(at) === 0x2f && part.charCodeAt(at + 1) === 0x2f) at++
  const rest = part.slice(at)
  return `${rest === '' ? '/' : rest}${query}`
}

interface Claims {
  name: string
  hosts: readonly string[] | undefined
  paths: readonly string[]
  prefix: string
}

/**
 * `shop.example.com /, /cart` or `any host /api`: what a site answers, for the stats page and the log. The
 * default site (the unprefixed colors) gets what no other site serves: nothing when one of `sites` takes
 * every host and path.
 */
export function serves(site: Omit<Claims, 'name'>, sites: readonly Claims[] = []): string {
  if (site.prefix === '') {
    const all = sites.find(
      (other) => other.prefix !== '' && other.hosts === undefined && other.paths.includes('/'),
    )
    return all
      ? `nothing: the site ${all.name} answers every host and path`
      : 'every host and path no other site serves'
  }
  return `${site.hosts?.join(', ') ?? 'any host'} ${site.paths.join(', ')}`
}
