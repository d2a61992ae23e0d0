// decide(request) -> the color that serves it, and why: an override names a color (QA, even at weight 0),
// a sticky client keeps its color (cookie) or hashes to one (header, ip), everyone else gets a weighted
// pick among the colors that are not ejected. Randomness is injected so tests pin it.
import type { IncomingMessage } from 'node:http'
import weighted from 'weighted'
import { readCookie } from './cookies.js'
import type { Health } from './health.js'
import { rendezvous } from './rendezvous.js'
import type { Sticky } from './validators.js'

export interface Weighted {
  name: string
  weight: number
}

/** Why a request went where it did: in the access log and the metrics. */
/** `refused`: a malformed request, answered by colorproxy before any color was chosen. */
export type RouteReason = 'weighted' | 'sticky' | 'override' | 'failover' | 'refused'

export interface Decision<T> {
  /** Undefined when no color can take the request (→ 503). */
  route: T | undefined
  reason: RouteReason
  /** STICKY=cookie and the client had no valid cookie: set one for the color that serves it. */
  setCookie?: boolean
}

export interface RouterOptions {
  rand?: () => number
  /** Ejected colors leave the weighted pick and the hash. */
  health?: Pick<Health, 'available' | 'refresh'>
  sticky?: Sticky & { cookie?: string }
  overrideHeader?: string
}

export interface Router<T extends Weighted> {
  /** `client`: the client's address (forwarding.ts), hashed by STICKY=ip; the peer address by default. */
  decide(req: IncomingMessage, client?: string): Decision<T>
  /** A weighted pick among the colors that take new traffic, optionally leaving one out (failover). */
  weighted(except?: string): T | undefined
}

export function createRouter<T extends Weighted>(
  colors: readonly T[],
  options: RouterOptions = {},
): Router<T> {
  const rand = options.rand ?? Math.random
  const sticky = options.sticky ?? { mode: 'off' }
  const overrideKey = options.overrideHeader?.toLowerCase()
  const cookieName = sticky.mode === 'cookie' ? (sticky.cookie ?? 'colorproxy') : undefined
  const stickyHeader = sticky.mode === 'header' ? sticky.header.toLowerCase() : undefined
  // Sticky and override requests reach a color whatever its weight, as long as it has an upstream.
  const byName = new Map(colors.map((color) => [color.name, color]))

  // The colors that take new traffic, rebuilt only when an ejection starts or ends.
  let version = Number.NaN
  let active: T[] = []
  let choose: () => T | undefined = chooser(active, rand)
  const current = (): T[] => {
    const now = options.health?.refresh() ?? 0
    if (now !== version) {
      version = now
      active = colors.filter((color) => color.weight > 0 && (options.health?.available(color.name) ?? true))
      choose = chooser(active, rand)
    }
    return active
  }

  const weightedPick = (except?: string): T | undefined => {
    current()
    if (except === undefined) return choose()
    return chooser(
      active.filter((color) => color.name !== except),
      rand,
    )()
  }

  /** The key a client is hashed by: a header's value or the peer address. */
  const stickyKey = (req: IncomingMessage, client: string | undefined): string | undefined => {
    if (sticky.mode === 'ip') return client ?? req.socket.remoteAddress
    if (stickyHeader === undefined) return undefined
    const value = req.headers[stickyHeader]
    const first = Array.isArray(value) ? value[0] : value
    return first === undefined || first === '' ? undefined : first
  }

  const named = (name: string | undefined): T | undefined =>
    name === undefined ? undefined : byName.get(name.trim().toLowerCase())

  return {
    weighted: weightedPick,
    decide(req, client) {
      if (overrideKey !== undefined) {
        const header = req.headers[overrideKey]
        const value = Array.isArray(header) ? header[0] : header
        const forced = named(value) ?? named(readCookie(req.headers.cookie, options.overrideHeader ?? ''))
        if (forced) return { route: forced, reason: 'override' }
      }
      if (cookieName !== undefined) {
        const kept = named(readCookie(req.headers.cookie, cookieName))
        if (kept) return { route: kept, reason: 'sticky' }
        return { route: weightedPick(), reason: 'weighted', setCookie: true }
      }
      const key = sticky.mode === 'off' ? undefined : stickyKey(req, client)
      if (key !== undefined) {
        const hashed = rendezvous(current(), key)
        if (hashed) return { route: hashed, reason: 'sticky' }
      }
      return { route: weightedPick(), reason: 'weighted' }
    },
  }
}

/** One random number and a short scan per pick; a single color needs neither. */
function chooser<T extends Weighted>(active: readonly T[], rand: () => number): () => T | undefined {
  if (active.length <= 1) {
    const only = active[0]
    return () => only
  }
  const weights = active.map((color) => color.weight)
  // Validated once here rather than on every pick.
  const settings = { rand, total: weights.reduce((sum, weight) => sum + weight, 0) }
  return () => weighted.select(active, weights, settings)
}

/** Each color's share of new traffic in percent, rounded to one decimal. */
export function shares(colors: readonly Weighted[]): Map<string, number> {
  const total = colors.reduce((sum, color) => sum + color.weight, 0)
  return new Map(
    colors.map((color) => [color.name, total === 0 ? 0 : Math.round((color.weight / total) * 1000) / 10]),
  )
}
