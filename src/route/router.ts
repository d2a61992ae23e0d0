// decide(request) -> the color that serves it, and why: an override names a color (QA, even at weight 0),
// a sticky client keeps its color (cookie) or hashes to one (header, ip), everyone else gets a weighted
// pick (weights.ts) among the colors that are not ejected. Randomness is injected so tests pin it.
import type { IncomingMessage } from 'node:http'
import { readCookie } from './cookies.js'
import type { Ejection } from './ejection.js'
import type { Decision } from '../forward/events.js'
import { rendezvous } from './rendezvous.js'
import type { Sticky } from '../config/validators.js'
import { createPicker, type Weighted } from './weights.js'

/** STICKY and, for STICKY=cookie, the cookie's name (STICKY_COOKIE). */
export type StickyRule = Exclude<Sticky, { mode: 'cookie' }> | { mode: 'cookie'; cookie: string }

export interface RouterOptions {
  rand?: () => number
  /** Ejected colors leave the weighted pick and the hash. */
  ejection?: Pick<Ejection, 'available' | 'refresh'>
  sticky?: StickyRule
  overrideHeader?: string
  /** CANARY: changes whenever the weights do (the picker then reads them again). */
  weightsVersion?: () => number
  /** CANARY: an aborted canary keeps no cookie-sticky client (undefined: every color keeps its own). */
  keeps?: (color: string) => boolean
}

export interface Router<T extends Weighted> {
  /** `client`: the client's address (forward/x-forwarded.ts), hashed by STICKY=ip; the peer address by default. */
  decide(req: IncomingMessage, client?: string): Decision<T>
  /** A weighted pick among the colors that take new traffic, optionally leaving one out (failover). */
  weighted(except?: string): T | undefined
}

export function createRouter<T extends Weighted>(
  colors: readonly T[],
  options: RouterOptions = {},
): Router<T> {
  const sticky = options.sticky ?? { mode: 'off' }
  const picker = createPicker(colors, options.rand ?? Math.random, availability(options))
  const keeps = options.keeps ?? (() => true)
  // Sticky and override requests reach a color whatever its weight, as long as it has an upstream.
  const byName = new Map(colors.map((color) => [color.name, color]))
  const named = (name: string | undefined): T | undefined =>
    name === undefined ? undefined : byName.get(name.trim().toLowerCase())
  const override = overrideRule(options.overrideHeader, named)
  const hashKey = stickyKey(sticky)

  return {
    weighted: picker.pick,
    decide(req, client) {
      const forced = override(req)
      if (forced) return { color: forced, reason: 'override' }
      if (sticky.mode === 'cookie') {
        const kept = named(readCookie(req.headers.cookie, sticky.cookie))
        if (kept && keeps(kept.name)) return { color: kept, reason: 'sticky' }
        return { color: picker.pick(), reason: 'weighted', setCookie: true }
      }
      const key = hashKey(req, client)
      if (key !== undefined) {
        const hashed = rendezvous(picker.active(), key)
        if (hashed) return { color: hashed, reason: 'sticky' }
      }
      return { color: picker.pick(), reason: 'weighted' }
    },
  }
}

/** Which colors take new traffic now: not ejected; rebuilt when an ejection or the canary's weights change. */
function availability(options: RouterOptions): Pick<Ejection, 'available' | 'refresh'> | undefined {
  const { ejection, weightsVersion } = options
  if (weightsVersion === undefined) return ejection
  return {
    available: (color) => ejection?.available(color) ?? true,
    // Both versions only count up, so their sum changes whenever either does (no packing, no allocation).
    refresh: () => (ejection?.refresh() ?? 0) + weightsVersion(),
  }
}

/** OVERRIDE_HEADER: the color named by that header, or by a cookie of the same name. */
function overrideRule<T>(
  header: string | undefined,
  named: (name: string | undefined) => T | undefined,
): (req: IncomingMessage) => T | undefined {
  if (header === undefined) return () => undefined
  const key = header.toLowerCase()
  return (req) => {
    const value = req.headers[key]
    return named(Array.isArray(value) ? value[0] : value) ?? named(readCookie(req.headers.cookie, header))
  }
}

/** The key a sticky client is hashed by (STICKY=ip: its address; STICKY=header: that header's value). */
function stickyKey(
  sticky: StickyRule,
): (req: IncomingMessage, client: string | undefined) => string | undefined {
  if (sticky.mode === 'ip') return (req, client) => client ?? req.socket.remoteAddress
  if (sticky.mode !== 'header') return () => undefined
  const name = sticky.header.toLowerCase()
  return (req) => {
    const value = req.headers[name]
    const first = Array.isArray(value) ? value[0] : value
    return first === undefined || first === '' ? undefined : first
  }
}
