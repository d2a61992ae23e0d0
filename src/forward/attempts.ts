// After a failed attempt: send the request again, try another color, or fail. A pure function of the
// request, the outcome and what was tried, so every case is one row in a table test (test/unit/attempts.ts).
import { CONNECT_FAILURES, type FailureReason } from './failures.js'

// RFC 9110 section 9.2.2: only idempotent requests may be repeated automatically, and only bodiless ones
// can be, since the body was consumed by the first attempt.
const REPEATABLE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])

export interface AttemptRequest {
  method: string
  hasBody: boolean
  /** Nothing has been sent to the client yet, and it is still connected: a status can still be chosen. */
  answerable: boolean
}

export interface AttemptOutcome {
  reason: FailureReason
  /** The upstream sent a status line before failing. */
  answered: boolean
}

export interface Tried {
  /** Already sent a second time on a new connection. */
  retried: boolean
  /** Already moved to another color. */
  failedOver: boolean
  /** FAILOVER is on. */
  failoverAllowed: boolean
}

/**
 * `retry`: the same color on a new connection. A pooled socket can be closed by the upstream just as a
 * request is written on it (a keep-alive timeout, a backend draining during its own rolling update): the
 * request got no answer and may be repeated, so it is sent once more, as browsers and Node's own client
 * do. `failover`: another color, when this one was never reached (or reset a repeatable request before
 * answering) and no body byte was sent. `fail`: answer with the failure's status, or cut the answer.
 */
export type NextAttempt = 'retry' | 'failover' | 'fail'

export function nextAttempt(request: AttemptRequest, outcome: AttemptOutcome, tried: Tried): NextAttempt {
  if (!request.answerable || request.hasBody) return 'fail'
  const repeatable = REPEATABLE_METHODS.has(request.method)
  const unanswered = outcome.reason === 'reset' && !outcome.answered
  if (unanswered && repeatable && !tried.retried) return 'retry'
  const unreached = CONNECT_FAILURES.has(outcome.reason) || (unanswered && repeatable)
  if (unreached && tried.failoverAllowed && !tried.failedOver) return 'failover'
  return 'fail'
}
