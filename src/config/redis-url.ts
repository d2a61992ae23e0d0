// A Redis store's address, `redis://[user:pass@]host:port[/db]` (`rediss://` for TLS): checked at startup,
// kept whole for the client, and shown only without its credentials.
import { redactUrl } from './redact.js'

export interface RedisAddress {
  /** The URL as given, credentials included: for the client only. */
  url: string
  /** The URL without its credentials: for logs and /config. */
  shown: string
}

/** Throws an Error saying what is expected, never quoting the value (it may hold a password). */
export function parseRedisUrl(raw: string): RedisAddress {
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    throw new Error('must be a URL such as redis://redis:6379')
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error('must be a redis:// or rediss:// URL')
  }
  if (url.hostname === '') throw new Error('must name the Redis host, as in redis://redis:6379')
  if (!/^(\/\d{0,5})?$/.test(url.pathname) || url.search !== '' || url.hash !== '') {
    throw new Error('may end only in a database number, as in redis://redis:6379/2')
  }
  return { url: url.href, shown: redactUrl(url) }
}

/** FLEET_NAME: a key prefix of letters, digits, `_`, `.` and `-`. */
export function parseFleetName(raw: string): string {
  const value = raw.trim()
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(value)) {
    throw new Error('must be letters, digits, _ . or -, starting with a letter or digit, at most 64')
  }
  return value
}
