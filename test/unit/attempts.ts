// Retry, failover or fail after a failed attempt: every rule of attempts.ts as one row.
import t from 'tap'
import { type NextAttempt, nextAttempt } from '../../src/forward/attempts.js'
import type { FailureReason } from '../../src/forward/failures.js'

interface Row {
  why: string
  method?: string
  hasBody?: boolean
  answerable?: boolean
  reason: FailureReason
  answered?: boolean
  retried?: boolean
  failedOver?: boolean
  failoverAllowed?: boolean
  next: NextAttempt
}

const ROWS: Row[] = [
  { why: 'a reset GET with no answer is sent again', reason: 'reset', next: 'retry' },
  { why: 'HEAD and OPTIONS are repeatable too', method: 'HEAD', reason: 'reset', next: 'retry' },
  { why: 'OPTIONS is repeatable', method: 'OPTIONS', reason: 'reset', next: 'retry' },
  { why: 'a second reset moves to another color', reason: 'reset', retried: true, next: 'failover' },
  { why: '…unless FAILOVER is off', reason: 'reset', retried: true, failoverAllowed: false, next: 'fail' },
  { why: 'a reset POST is never repeated', method: 'POST', reason: 'reset', next: 'fail' },
  { why: 'a reset DELETE is never repeated', method: 'DELETE', reason: 'reset', next: 'fail' },
  { why: 'a reset after the status line is not repeated', reason: 'reset', answered: true, next: 'fail' },
  { why: 'a request with a body is never sent twice', hasBody: true, reason: 'reset', next: 'fail' },
  { why: 'nor failed over', hasBody: true, reason: 'refused', next: 'fail' },
  { why: 'a refused connection fails over', reason: 'refused', next: 'failover' },
  { why: 'even for a POST: the upstream never saw it', method: 'POST', reason: 'refused', next: 'failover' },
  { why: 'a name that does not resolve fails over', reason: 'dns', next: 'failover' },
  { why: 'an unreachable host fails over', reason: 'unreachable', next: 'failover' },
  { why: 'a connect timeout fails over', reason: 'connect_timeout', next: 'failover' },
  { why: 'only once', reason: 'refused', failedOver: true, next: 'fail' },
  { why: 'FAILOVER=false', reason: 'refused', failoverAllowed: false, next: 'fail' },
  { why: 'a server timeout: the upstream had the request', reason: 'server_timeout', next: 'fail' },
  { why: 'a stalled body', reason: 'server_idle_timeout', next: 'fail' },
  { why: 'a broken answer', reason: 'bad_response', next: 'fail' },
  { why: 'a TLS failure', reason: 'tls', next: 'fail' },
  { why: 'an unknown error', reason: 'error', next: 'fail' },
  { why: 'too late for a status: cut, never repeated', answerable: false, reason: 'reset', next: 'fail' },
  { why: 'too late to fail over', answerable: false, reason: 'refused', next: 'fail' },
]

t.test('nextAttempt: retry, failover or fail', async (t) => {
  for (const row of ROWS) {
    const next = nextAttempt(
      { method: row.method ?? 'GET', hasBody: row.hasBody ?? false, answerable: row.answerable ?? true },
      { reason: row.reason, answered: row.answered ?? false },
      {
        retried: row.retried ?? false,
        failedOver: row.failedOver ?? false,
        failoverAllowed: row.failoverAllowed ?? true,
      },
    )
    t.equal(next, row.next, row.why)
  }
})
