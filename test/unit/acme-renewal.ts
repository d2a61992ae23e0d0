// When a name is ordered again: due before its end, and a backoff after a failure.
import t from 'tap'
import { FIRST_RETRY_MS, isDue, LAST_RETRY_MS, retryAfter, spoken } from '../../src/acme/renewal.js'

t.test('a certificate is due once less than ACME_RENEW_BEFORE is left', async (t) => {
  const day = 86_400_000
  const notAfter = new Date(100 * day)
  t.notOk(isDue(notAfter, 60 * day, 30 * day), '40 days left')
  t.ok(isDue(notAfter, 71 * day, 30 * day), '29 days left')
})

t.test('retries wait 5 minutes, doubling, at most a day: at most 4 failures in the first hour', async (t) => {
  t.equal(retryAfter(1), FIRST_RETRY_MS)
  t.equal(retryAfter(2), 2 * FIRST_RETRY_MS)
  t.equal(retryAfter(30), LAST_RETRY_MS)
  let at = 0
  let failures = 0
  while (at < 3_600_000) at += retryAfter(++failures)
  t.equal(failures, 4, "attempts that start within the first hour (Let's Encrypt allows 5 failures)")
})

t.test('waits are said as a person would', async (t) => {
  t.equal(spoken(5 * 60_000), '5m')
  t.equal(spoken(2 * 3_600_000), '2h')
  t.equal(spoken(86_400_000), '1d')
  t.equal(spoken(1500), '2s')
})
