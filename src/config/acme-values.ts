// The values of the ACME_* variables: the names to certify, the account's contact, the CA's directory, the
// store, the external account binding's key. Each parser throws an Error saying what is expected.
import { parseRedisUrl, type RedisAddress } from './redis-url.js'
import { parseSiteHosts } from './validators.js'

/** ACME_DOMAINS: host names, no wildcard (HTTP-01 and TLS-ALPN-01 cannot prove one). */
export function parseAcmeNames(raw: string): string[] {
  const names = parseSiteHosts(raw)
  if (names.some((name) => name.startsWith('*.'))) {
    throw new Error('must name hosts without wildcards: HTTP-01 and TLS-ALPN-01 cannot prove *.example.com')
  }
  return names
}

/** ACME_EMAIL: the account's contact, sent as `mailto:`. */
export function parseEmail(raw: string): string {
  if (!/^[^\s@,:]+@[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(raw.trim())) {
    throw new Error('must be an e-mail address such as ops@example.com')
  }
  return raw.trim()
}

/** ACME_DIRECTORY: the CA's directory, over https. */
export function parseDirectoryUrl(raw: string): string {
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    throw new Error('must be the https:// URL of an ACME directory')
  }
  if (url.protocol !== 'https:' || url.username || url.password) {
    throw new Error('must be the https:// URL of an ACME directory, without credentials')
  }
  return url.href
}

/** ACME_STORE: an absolute folder, or a Redis every replica shares. */
export type AcmeStoreAddress = { kind: 'folder'; path: string } | { kind: 'redis'; redis: RedisAddress }

export function parseAcmeStore(raw: string): AcmeStoreAddress {
  const value = raw.trim()
  if (/^rediss?:/i.test(value)) return { kind: 'redis', redis: parseRedisUrl(value) }
  if (!value.startsWith('/')) {
    throw new Error('must be an absolute folder such as /data/acme, or a URL such as redis://redis:6379')
  }
  return { kind: 'folder', path: value.replace(/\/+$/, '') || '/' }
}

/** ACME_EAB_HMAC_KEY: the CA's key for external account binding, base64url. */
export function parseEabKey(raw: string): string {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(raw.trim())) throw new Error('must be the base64url key the CA gave')
  return raw.trim()
}

const LONG = /^(\d+(?:\.\d+)?)(s|m|h|d)$/
const LONG_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** ACME_RENEW_BEFORE: `30d`, `720h`, `90m` → milliseconds (a certificate lives 90 days, or as the CA says). */
export function parseRenewBefore(raw: string): number {
  const match = LONG.exec(raw.trim())
  const ms = match ? Number(match[1]) * LONG_MS[match[2] as keyof typeof LONG_MS] : Number.NaN
  if (!(ms > 0 && ms <= 365 * LONG_MS.d)) {
    throw new Error('must be a duration with its unit, above 0 and at most 365d, such as 30d, 12h or 90m')
  }
  return Math.round(ms)
}
