// Parsers for the values colorproxy reads from the environment. Each takes the raw string and returns the
// parsed value or throws an Error whose message says what is expected. Messages never contain the value:
// the caller decides whether the value is safe to show (see load.ts). Durations and ports are in
// lib/values.ts, shared with myapp.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { BlockList, isIP } from 'node:net'
import { domainToASCII } from 'node:url'
import { parsePort } from '../../lib/values.js'
import { normalizeHost, pathSegments } from './host-path.js'

export const MAX_WEIGHT = 1_000_000

/** A whole number from 0 to 1000000: `50abc`, `1.5`, `-1` and `` are refused. */
export function parseWeight(raw: string): number {
  if (!/^\d{1,7}$/.test(raw.trim()) || Number(raw) > MAX_WEIGHT) {
    throw new Error(`must be a whole number from 0 to ${MAX_WEIGHT}`)
  }
  return Number(raw)
}

/** `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`). */
export function parseBoolean(raw: string): boolean {
  const value = raw.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(value)) return true
  if (['false', '0', 'no', 'off'].includes(value)) return false
  throw new Error('must be true or false')
}

/** An address to listen on: an IPv4/IPv6 literal or a host name. */
export function parseListenHost(raw: string): string {
  const value = raw.trim()
  if (!/^(?:[A-Za-z0-9.-]+|[0-9A-Fa-f:.]+)$/.test(value)) {
    throw new Error('must be an address to listen on, such as 0.0.0.0, :: or 127.0.0.1')
  }
  return value
}

// RFC 9110 section 5.6.2: a header name is a token.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// Headers the proxy manages itself; using one as the color header would break forwarding.
const RESERVED_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'upgrade'])

export function parseHeaderName(raw: string): string {
  const value = raw.trim()
  if (!TOKEN.test(value) || RESERVED_HEADERS.has(value.toLowerCase())) {
    throw new Error('must be an HTTP header name such as Color or X-Color (not Host, Connection, ...)')
  }
  return value
}

export function parseChoice<T extends string>(choices: readonly T[]): (raw: string) => T {
  return (raw) => {
    const value = raw.trim() as T
    if (!choices.includes(value)) throw new Error(`must be one of ${choices.join(', ')}`)
    return value
  }
}

const COLOR_NAME = /^[a-z][a-z0-9-]*$/

/** `blue,green` → ['blue', 'green']. */
export function parseColorList(raw: string): string[] {
  const names = raw.split(',').map((name) => name.trim())
  const bad = names.filter((name) => !COLOR_NAME.test(name))
  if (bad.length > 0 || names.length === 0) {
    throw new Error('must be a comma-separated list of lower-case names such as blue,green (a-z, 0-9, -)')
  }
  if (new Set(names).size !== names.length) throw new Error('must not name a color twice')
  return names
}

/** `blue` → `BLUE`, `canary-2` → `CANARY_2`: the prefix of a color's variables. */
export function colorVariable(color: string): string {
  return color.toUpperCase().replaceAll('-', '_')
}

/**
 * An upstream: `http(s)://host[:port][/base]`. A generic URL check accepts `myapp:8080` (scheme "myapp:"), and
 * WHATWG URL parsing forgives `http:/myapp`; an edge proxy should refuse both.
 */
export function parseUpstreamUrl(raw: string): URL {
  const value = raw.trim()
  const expected = 'must be an http:// or https:// URL such as http://myapp-v1:8080'
  if (!/^https?:\/\/[^/?#]/i.test(value)) throw new Error(expected)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(expected)
  }
  if (url.search || url.hash) throw new Error('must not have a query (?) or fragment (#): only a base path')
  return url
}

/** A whole number from `min` to `max` (a count such as EJECT_AFTER). */
export function parseCount(raw: string, { min = 0, max = 1_000_000 } = {}): number {
  if (!/^\d{1,7}$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new Error(`must be a whole number from ${min} to ${max}`)
  }
  return Number(raw)
}

/** WORKERS: `auto` (one per available core) or a whole number from 1 to 64. */
export function parseWorkers(raw: string): number | 'auto' {
  const value = raw.trim().toLowerCase()
  if (value === 'auto') return 'auto'
  try {
    return parseCount(value, { min: 1, max: 64 })
  } catch {
    throw new Error('must be auto (one per core) or a whole number from 1 to 64')
  }
}

export type Sticky =
  { mode: 'off' } | { mode: 'cookie' } | { mode: 'ip' } | { mode: 'header'; header: string }

/** `off`, `cookie`, `ip` or `header:<Name>`. */
export function parseSticky(raw: string): Sticky {
  const value = raw.trim()
  if (value === 'off' || value === 'cookie' || value === 'ip') return { mode: value }
  const header = /^header:(.+)$/i.exec(value)?.[1]
  if (header !== undefined && TOKEN.test(header.trim())) return { mode: 'header', header: header.trim() }
  throw new Error('must be off, cookie, ip, or header:<Name> such as header:X-User-Id')
}

/** HEALTH_CHECK_PATH: an origin-form path, `/healthz` or `/status?full=1`. */
export function parseHealthPath(raw: string): string {
  const value = raw.trim()
  if (!/^\/[\x21-\x7e]*$/.test(value)) throw new Error('must be a path starting with / such as /healthz')
  return value
}

export type RateKey = { mode: 'ip' } | { mode: 'header'; header: string }

/** RATE_LIMIT_BY: `ip`, or `header:<Name>` such as header:X-Api-Key. */
export function parseRateKey(raw: string): RateKey {
  const value = raw.trim()
  if (value === 'ip') return { mode: 'ip' }
  const header = /^header:(.+)$/i.exec(value)?.[1]
  if (header !== undefined && TOKEN.test(header.trim())) return { mode: 'header', header: header.trim() }
  throw new Error('must be ip, or header:<Name> such as header:X-Api-Key')
}

// RFC 6265 section 4.1.1: a cookie name is a token.
export function parseCookieName(raw: string): string {
  const value = raw.trim()
  if (!TOKEN.test(value)) throw new Error('must be a cookie name such as colorproxy (letters, digits, - _ .)')
  return value
}

/** `10.0.0.0/8`, `192.168.1.7`, `::1`, `fd00::/8`. Throws a message naming what is expected. */
export function parseTrustedProxies(raw: string): BlockList | undefined {
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  if (entries.length === 0) return undefined
  const list = new BlockList()
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/')
    const family = isIP(address)
    const bits = prefix === undefined ? undefined : Number(prefix)
    const max = family === 6 ? 128 : 32
    const validPrefix = bits === undefined || (/^\d{1,3}$/.test(prefix ?? '') && bits <= max)
    if (family === 0 || extra !== undefined || !validPrefix) {
      throw new Error('must be a comma list of addresses and CIDRs such as 10.0.0.0/8,192.168.1.7,::1')
    }
    const type = family === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(address, type)
    else list.addSubnet(address, bits, type)
  }
  return list
}

/** TLS_CERT, UPSTREAM_CA: PEM certificates (read whole, with their key, in load.ts). */
export function parseCertificatePem(raw: string): string {
  if (!raw.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error('must be PEM: one or more -----BEGIN CERTIFICATE----- blocks')
  }
  try {
    new X509Certificate(raw)
  } catch {
    throw new Error('holds a PEM block that is not a readable certificate')
  }
  return raw
}

/** TLS_KEY: a PEM private key, not encrypted. */
export function parseKeyPem(raw: string): string {
  try {
    createPrivateKey(raw)
  } catch {
    throw new Error('must be an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)')
  }
  return raw
}

/** AUTH_REALM: quoted in WWW-Authenticate, so printable, without `"` or `\`. */
export function parseRealm(raw: string): string {
  if (!/^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,100}$/.test(raw)) {
    throw new Error('must be 1 to 100 printable characters without " or \\')
  }
  return raw
}

/** HTTPS_REDIRECT_PORT: a port a client can connect to (not 0). */
export function parsePublicPort(raw: string): number {
  const port = parsePort(raw)
  if (port === 0) throw new Error('must be a port number from 1 to 65535')
  return port
}

/** HSTS: whole seconds, up to about 31 years. */
export function parseSeconds(raw: string): number {
  if (!/^\d{1,10}$/.test(raw.trim()) || Number(raw) > 1_000_000_000) {
    throw new Error('must be whole seconds from 0 to 1000000000, such as 31536000 (a year)')
  }
  return Number(raw)
}

/** SITES: `shop,api` → ['shop', 'api']; `default` and `none` name the unprefixed site and no site. */
export function parseSiteList(raw: string): string[] {
  const names = raw.split(',').map((name) => name.trim())
  if (names.some((name) => !COLOR_NAME.test(name))) {
    throw new Error('must be a comma-separated list of lower-case names such as shop,api (a-z, 0-9, -)')
  }
  if (new Set(names).size !== names.length) throw new Error('must not name a site twice')
  if (names.some((name) => name === 'default' || name === 'none')) {
    throw new Error('must not name a site default or none: those are the unprefixed site and no site')
  }
  return names
}

/** `<SITE>_HOSTS`: `shop.example.com,*.shop.example.com` normalized (lower case, no trailing dot, punycode). */
export function parseSiteHosts(raw: string): string[] {
  const hosts = raw.split(',').map((entry) => {
    const value = entry.trim()
    const wildcard = value.startsWith('*.')
    const name = wildcard ? value.slice(2) : value
    // A name written in Unicode is read as its punycode, as a client sends it.
    const ascii = /[\u0080-\uffff]/.test(name) ? domainToASCII(name.replace(/\.+$/, '')) : name
    const normal = /^[^\s/:?#@*]+$/.test(ascii) ? normalizeHost(ascii) : undefined
    if (normal === undefined || !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(normal) || normal.includes('..')) {
      throw new Error(
        'must be a comma-separated list of host names such as shop.example.com or *.example.com (no port, no path)',
      )
    }
    return wildcard ? `*.${normal}` : normal
  })
  if (new Set(hosts).size !== hosts.length) throw new Error('must not name a host twice')
  return hosts
}

/** `<SITE>_PATHS`: `/api,/v2/api` → without trailing or doubled slashes; each starts with `/`. */
export function parseSitePaths(raw: string): string[] {
  const paths = raw.split(',').map((entry) => {
    const value = entry.trim()
    const segments = value.split('/').slice(1)
    if (!value.startsWith('/') || /[\s?#]/.test(value) || segments.some((s) => s === '.' || s === '..')) {
      throw new Error(
        'must be a comma-separated list of paths that start with /, such as /api,/v2 (no query)',
      )
    }
    return `/${segments.filter((segment) => segment !== '').join('/')}`
  })
  const keys = paths.map((path) => pathSegments(path).join('/'))
  if (new Set(keys).size !== keys.length) throw new Error('must not name a path twice')
  return paths
}

/** One color's name (CANARY, MIRROR): `green`. */
export function parseColorName(raw: string): string {
  const value = raw.trim()
  if (!COLOR_NAME.test(value)) throw new Error('must be a color name such as green (a-z, 0-9, -)')
  return value
}

/** A percentage from 0 to 100, decimals allowed: `1`, `0.5`. */
export function parsePercent(raw: string): number {
  const value = raw.trim()
  if (!/^\d{1,3}(\.\d{1,3})?$/.test(value) || Number(value) > 100) {
    throw new Error('must be a percentage from 0 to 100, such as 1 or 0.5')
  }
  return Number(value)
}

/** CANARY_STEPS: `5,25,50,100`, whole percentages that rise, the last at most 100 (a first 0: mirrored only). */
export function parseCanarySteps(raw: string): number[] {
  const steps = raw.split(',').map((step) => step.trim())
  const numbers = steps.map(Number)
  const rising = numbers.every((step, i) => i === 0 || step > (numbers[i - 1] as number))
  if (steps.some((step) => !/^\d{1,3}$/.test(step)) || numbers.some((n) => n > 100) || !rising) {
    throw new Error('must be whole percentages that rise, at most 100, such as 5,25,50,100')
  }
  return numbers
}
