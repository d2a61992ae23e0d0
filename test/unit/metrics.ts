import t from 'tap'
import type { RequestRecord } from '../../src/forward/events.js'
import { Metrics } from '../../src/observe/metrics.js'

const SITES = [
  {
    name: 'default',
    colors: [
      { name: 'blue', weight: 4 },
      { name: 'green', weight: 1 },
    ],
    ejected: () => [],
  },
]

const record = (color: string | null, status: number, via: RequestRecord['via']): RequestRecord => ({
  site: 'default',
  color,
  status,
  durationMs: 3,
  via,
  failure: undefined,
  proto: 'http/1.1',
  tls: false,
})

t.test('per-request counters: one series per label set, counted whatever the order', async (t) => {
  const metrics = new Metrics(SITES)
  for (let i = 0; i < 3; i++) metrics.done(record('blue', 200, 'weighted'))
  metrics.done(record('green', 503, 'sticky'))
  metrics.done(record(null, 503, 'refused'))
  const { body } = await metrics.text()
  t.match(body, /colorproxy_requests_total\{site="default",color="blue",code="200"\} 3\n/)
  t.match(body, /colorproxy_requests_total\{site="default",color="green",code="503"\} 1\n/)
  t.match(body, /colorproxy_requests_total\{site="default",color="none",code="503"\} 1\n/)
  t.match(body, /colorproxy_routed_total\{site="default",color="blue",route="weighted"\} 3\n/)
  t.match(body, /colorproxy_routed_total\{site="default",color="green",route="sticky"\} 1\n/)
  t.match(body, /colorproxy_client_requests_total\{proto="http\/1.1",tls="false"\} 5\n/)
  metrics.done(record('blue', 200, 'weighted'))
  t.match((await metrics.text()).body, /color="blue",code="200"\} 4\n/, 'a second scrape reads the new total')
})

t.test('the event loop delay since the previous scrape: a stalled loop shows', async (t) => {
  const metrics = new Metrics(SITES)
  await metrics.text()
  // The monitor's first 10 ms tick after it starts (or is reset by a scrape) only starts its clock: there
  // is no event for it, so wait past it.
  await new Promise((resolve) => setTimeout(resolve, 30))
  // Keep the loop busy for 120 ms: the monitor's next timer runs that late.
  const until = Date.now() + 120
  while (Date.now() < until);
  await new Promise((resolve) => setTimeout(resolve, 30))
  const worst = /colorproxy_event_loop_delay_seconds\{quantile="1"\} ([\d.e-]+)/.exec(
    (await metrics.text()).body,
  )
  t.ok(worst && Number(worst[1]) >= 0.1, `the worst delay read ${worst?.[1]} s`)
  const next = /colorproxy_event_loop_delay_seconds\{quantile="1"\} ([\d.e-]+)/.exec(
    (await metrics.text()).body,
  )
  t.ok(next && Number(next[1]) < 0.1, `and the next scrape starts afresh (${next?.[1]} s)`)
})

t.test('each served certificate has its remaining life by name and source', async (t) => {
  const metrics = new Metrics([])
  const at = (days: number) => new Date(Date.UTC(2027, 0, 1) + days * 86_400_000)
  const now = () => at(0).getTime()
  metrics.certificates(
    () => [
      { source: 'TLS_CERT', names: ['example.com', '*.example.com'], cert: '', key: '', notAfter: at(10) },
      { source: 'shop.pem', names: ['shop.example'], cert: '', key: '', notAfter: at(1) },
      { source: 'acme:a.test', names: ['a.test'], cert: '', key: '', notAfter: at(-1) },
    ],
    now,
  )
  const text = (await metrics.text()).body
  t.match(
    text,
    /^colorproxy_certificate_expiry_seconds\{name="\*\.example\.com",source="TLS_CERT"\} 864000$/m,
  )
  t.match(
    text,
    /^colorproxy_certificate_expiry_seconds\{name="shop\.example",source="TLS_CERTS_DIR"\} 86400$/m,
  )
  t.match(
    text,
    /^colorproxy_certificate_expiry_seconds\{name="a\.test",source="acme"\} -86400$/m,
    'expired: below 0',
  )
})
