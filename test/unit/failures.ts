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

t.test("every code colorproxy's own errors carry is in the table", async (t) => {
  const errors = await import('../../src/upstream/errors.js')
  const { MAPPED_CODES } = await import('../../src/forward/failures.js')
  t.same(
    errors.UPSTREAM_ERROR_CODES.filter((code) => !MAPPED_CODES.has(code)),
    [],
    'no code of upstream/errors.ts falls through to the generic failure unmapped',
  )
  const made = [
    new errors.ConnectTimeoutError(),
    new errors.AnswerTimeoutError(),
    new errors.AnswerStalledError(),
    new errors.BadAnswerError('bytes no request asked for'),
    new errors.ClosedEarlyError(),
    new errors.NoAddressError('myapp'),
    new errors.OverloadedError('every connection is busy'),
    new errors.InvalidRequestError('a control character'),
  ]
  t.same(
    made.map((error) => error.code).sort(),
    [...errors.UPSTREAM_ERROR_CODES].sort(),
    'one class per code',
  )
  t.same(
    made.map((error) => [error.name, failureReason(error)]),
    [
      ['ConnectTimeoutError', 'connect_timeout'],
      ['AnswerTimeoutError', 'server_timeout'],
      ['AnswerStalledError', 'server_idle_timeout'],
      ['BadAnswerError', 'bad_response'],
      ['ClosedEarlyError', 'reset'],
      ['NoAddressError', 'dns'],
      ['OverloadedError', 'upstream_overloaded'],
      ['InvalidRequestError', 'error'],
    ],
  )
  t.same(
    errors.TIMEOUT_ERRORS.head,
    errors.AnswerTimeoutError,
    'each timeout is one class, whatever carries it',
  )
  t.match(new errors.NoAddressError('myapp').message, 'myapp has no address')
})
