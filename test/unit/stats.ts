import t from 'tap'
import { Stats, sitesSnapshot } from '../../src/observe/stats.js'
import { escapeHtml, renderStatsPage } from '../../src/observe/stats-page.js'

const record = (color: string | null, status = 200, durationMs = 10) =>
  ({
    site: 'default',
    color,
    status,
    durationMs,
    via: 'weighted',
    failure: undefined,
    proto: 'http/1.1',
    tls: false,
  }) as const

t.test('the rate 2 s after start divides by 2 s, not by the 10 s window', async (t) => {
  let clock = 1_000_000
  const stats = new Stats([{ name: 'blue', weight: 1 }], () => clock)
  for (let i = 0; i < 100; i++) stats.done(record('blue'))
  clock += 2000
  t.equal(stats.snapshot().rate, 50)
  t.equal(stats.snapshot().colors[0]?.rate, 50)
  clock += 60_000
  t.equal(stats.snapshot().rate, 0, 'and by the whole window later')
})

t.test('traffic(): the requests and rate snapshot() says, without the rest', async (t) => {
  let clock = 1_000_000
  const stats = new Stats(
    [
      { name: 'blue', weight: 4 },
      { name: 'green', weight: 1 },
    ],
    () => clock,
  )
  for (let i = 0; i < 30; i++) stats.done(record(i % 3 === 0 ? 'green' : 'blue'))
  stats.done(record(null, 503))
  clock += 2000
  t.same(stats.traffic(), { requests: 30, rate: 15 })
  const { requests, rate } = stats.snapshot()
  t.same(stats.traffic(), { requests, rate })
  clock += 11_000
  t.same(stats.traffic(), { requests: 30, rate: 0 })
})

t.test('observed share and errors over the last minute, rate over 10 s, percentiles, history', async (t) => {
  let clock = 1_000_000
  const stats = new Stats(
    [
      { name: 'blue', weight: 4 },
      { name: 'green', weight: 1 },
    ],
    () => clock,
  )
  for (let i = 1; i <= 100; i++) stats.done(record('blue', 200, i))
  stats.done(record('green', 502, 5))
  stats.done(record(null, 503))
  clock += 120_000
  for (let i = 0; i < 30; i++) stats.done(record('blue'))
  for (let i = 0; i < 10; i++) stats.done(record('green', i < 5 ? 200 : 504))
  stats.ejected('green')
  const snap = stats.snapshot(['green'])
  t.match(snap.colors, [
    {
      name: 'blue',
      configured: 80,
      observed: 75,
      rate: 3,
      errorRate: 0,
      requests: 130,
      errors: 0,
      ejected: false,
    },
    {
      name: 'green',
      configured: 20,
      observed: 25,
      rate: 1,
      errorRate: 50,
      requests: 11,
      errors: 6,
      ejected: true,
      ejections: 1,
    },
  ])
  // Nearest rank over blue's 130 samples: 1..100 and thirty 10s.
  t.match(snap.colors, [
    { p50Ms: 35, p99Ms: 99 },
    { p50Ms: 10, p99Ms: 10 },
  ])
  t.equal(snap.rate, 4)
  t.equal(snap.uptimeS, 120)
  t.equal(snap.history.length, 30)
  t.match(snap.history.at(-1), { secondsAgo: 0, requests: 40, shares: { blue: 75, green: 25 } })
  t.match(snap.history.at(-13), { secondsAgo: 120, requests: 101 })
  clock += 301_000
  stats.done(record('blue'))
  const later = stats.snapshot()
  t.same(
    later.history.filter((step) => step.requests > 0).map((step) => step.requests),
    [1],
    'seconds older than five minutes are gone',
  )
  t.equal(new Stats([]).snapshot().colors.length, 0)
})

t.test('the page escapes names and shows – for no latency yet', async (t) => {
  const stats = new Stats([{ name: '<b>', weight: 0 }])
  const html = renderStatsPage(
    sitesSnapshot([{ name: '<i>', serves: 'a <host> /', snapshot: stats.snapshot() }]),
  )
  t.match(html, /&lt;b&gt; draining/)
  t.match(html, /<h2 class="site-name">&lt;i&gt; <span class="serves">a &lt;host&gt; \/<\/span>/)
  t.match(html, /<td class="p99">–<\/td>/)
  t.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;')
})

t.test('WORKERS > 1: merged worker stats read as if one process had served every request', async (t) => {
  let clock = 1_000_000
  const colors = [
    { name: 'blue', weight: 4 },
    { name: 'green', weight: 1 },
  ]
  const one = new Stats(colors, () => clock)
  const workers = [new Stats(colors, () => clock), new Stats(colors, () => clock)]
  const both = (fill: (stats: Stats, i: number) => void) => {
    fill(one, 0)
    workers.forEach(fill)
  }
  // The same requests, split between the workers, and all of them in `one`.
  for (let i = 1; i <= 40; i++) {
    const status = i % 10 === 0 ? 502 : 200
    one.done(record(i % 5 === 0 ? 'green' : 'blue', status, i))
    ;(workers[i % 2] as Stats).done(record(i % 5 === 0 ? 'green' : 'blue', status, i))
    if (i === 20) clock += 3_000
  }
  both((stats, i) => i === 0 && stats.ejected('green'))
  clock += 1_000
  const merged = Stats.merge(
    colors,
    () => clock,
    workers.map((stats) => JSON.parse(JSON.stringify(stats.state()))),
  )
  t.same(merged.snapshot(['green']), one.snapshot(['green']))
  t.same(Stats.merge(colors, () => clock, []).snapshot().requests, 0, 'no workers, no requests')
})

t.test(
  'the split chart has a share scale, a time axis and a legend; each color says whether it is ready',
  async (t) => {
    let clock = 1_000_000
    const stats = new Stats(
      [
        { name: 'blue', weight: 4 },
        { name: 'green', weight: 1 },
        { name: 'red', weight: 0 },
      ],
      () => clock,
    )
    for (let i = 0; i < 10; i++) {
      stats.done(record('blue'))
      clock += 1000
    }
    const html = renderStatsPage(
      sitesSnapshot([
        {
          name: 'default',
          serves: 'everything',
          snapshot: stats.snapshot(['green'], { blue: ['10.0.0.7:80'] }),
        },
      ]),
    )
    for (const label of ['>100%<', '>50%<', '>0%<', '>now<', '>−1 min<', '>−4 min<'])
      t.ok(html.includes(label), label)
    t.match(
      html,
      /<p class="chart-legend"><span class="legend"><span class="swatch" style="background:#2563eb"><\/span>blue<\/span>/,
    )
    t.match(html, /<tr data-color="blue">[^]*?<td class="health">1 address out \(health checks\)<\/td>/)
    t.match(html, /<tr data-color="green">[^]*?<td class="health">out: ejected after connect failures<\/td>/)
    t.match(html, /<tr data-color="red">[^]*?<td class="health">ready, weight 0<\/td>/)
    t.notMatch(html, /preserveAspectRatio|width="600"/, 'the chart takes the width of the page')
  },
)
