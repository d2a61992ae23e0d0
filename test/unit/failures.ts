// The one table: failures to reasons, reasons to statuses.
import t from 'tap'
import { FAILURES, failureReason } from '../../src/forward/failures.js'

t.test('failures map to statuses in one table', async (t) => {
  const reason = (code: string) => failureReason(Object.assign(new Error(code), { code }))
  t.equal(reason('ECONNREFUSED'), 'refused')
  t.equal(reason('ECONNRESET'), 'reset')
  t.equal(reason('EAI_AGAIN'), 'dns')
  t.equal(reason('EHOSTUNREACH'), 'unreachable')
  t.equal(reason('ERR_TLS_CERT_ALTNAME_INVALID'), 'tls')
  t.equal(reason('DEPTH_ZERO_SELF_SIGNED_CERT'), 'tls')
  t.equal(reason('EWHATEVER'), 'error')
  t.equal(failureReason(new Error('no code')), 'error')
  for (const [name, { status }] of Object.entries(FAILURES)) {
    t.ok([499, 502, 503, 504].includes(status), `${name} → ${status}`)
  }
})

t.test('every failure reason has a status and a line', async (t) => {
  const reasons = ['refused', 'reset', 'dns', 'unreachable', 'connect_timeout', 'server_timeout']
  reasons.push('server_idle_timeout', 'bad_response', 'tls', 'no_color', 'client_gone', 'error')
  reasons.push('upstream_overloaded')
  t.same(Object.keys(FAILURES).sort(), reasons.sort())
  t.same(FAILURES.no_color, { status: 503, text: 'no color is available to serve this request' })
  t.equal(FAILURES.server_idle_timeout.status, 504)
  t.equal(FAILURES.upstream_overloaded.status, 503)
})
