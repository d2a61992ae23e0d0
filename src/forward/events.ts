// What forwarding tells the rest of colorproxy: the types its observers (ejection, metrics, the stats
// page) share. Observers import these, never the forwarders themselves.
import type { FailureReason } from './failures.js'

export type { FailureReason }

/**
 * Why a request went where it did: in the access log and the metrics. `refused`: a malformed request,
 * answered by colorproxy before any color was chosen.
 */
export type DecisionReason = 'weighted' | 'sticky' | 'override' | 'failover' | 'refused'

/** What the router decided for a request: a color (or none) and why. */
export interface Decision<T> {
  /** Undefined when no color can take the request (→ 503). */
  color: T | undefined
  reason: DecisionReason
  /** STICKY=cookie and the client had no valid cookie: set one for the color that serves it. */
  setCookie?: boolean
}

export interface RequestRecord {
  /** The site it was for: `default` for the unprefixed site, `none` when no site took it. */
  site: string
  /** The color that served it last; null for a 503 or a refused request. */
  color: string | null
  status: number
  durationMs: number
  via: DecisionReason
  failure: FailureReason | undefined
  /** How the client spoke: `http/1.1`, `http/1.0`, `h2`; and whether over TLS. */
  proto: string
  tls: boolean
}

export interface ProxyEvents {
  /** An attempt failed (before any answer, or cutting one); `reason` says how. */
  upstreamFailed?(color: string, reason: FailureReason): void
  /** An upstream sent response headers. */
  upstreamAnswered?(color: string): void
  failedOver?(from: string, to: string): void
  started?(): void
  /** A request is over (answered, failed, refused, or abandoned by its client). */
  done?(record: RequestRecord): void
}
