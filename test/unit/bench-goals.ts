// The bench's goal table (issue 27) from a run's figures, and its peers' configurations: pure text.
import t from 'tap'
import { type Figures, goals, goalTable, type Of } from '../../bench/goals.js'
import { readFileSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { caddyArgs, caddyfile, haproxyArgs, haproxyConfig } from '../../bench/peers.js'

/** Figures where every target does `rps` req/s with the given p50/p99 in each round. */
function figures(
  runs: Record<string, { rps: number; p50: number[]; p99: number[]; errors?: number }>,
  idle = 50,
): Figures {
  const at = (target: string) => runs[target]
  return {
    connections: [64, 256, 1024],
    ratio(a, b, _c, of) {
      const [one, other] = [at(a), at(b)]
      if (!one || !other) return Number.NaN
      return of === 'p99' ? (one.p99[0] as number) / (other.p99[0] as number) : one.rps / other.rps
    },
    value: (target, _c, of) => (of === 'idleRss' ? idle : Number.NaN),
    perRound(target, _c, of: Of) {
      const run = at(target)
      if (!run) return []
      if (of === 'p50') return run.p50
      if (of === 'p99') return run.p99
      return run.p50.map(() => (of === 'errors' ? (run.errors ?? 0) : run.rps))
    },
  }
}

const FAST = { rps: 100, p50: [1, 1, 1], p99: [2, 2.5, 2] }
const byGoal = (rows: ReturnType<typeof goals>) => new Map(rows.map((one) => [one.goal, one]))

t.test('every figure of the issue has a row, said met or not', async (t) => {
  const rows = byGoal(
    goals(
      figures({
        colorproxy: FAST,
        nginx: { ...FAST, rps: 180 },
        'bare raw': { ...FAST, rps: 105 },
        caddy: { ...FAST, p99: [3, 3, 3] },
        'colorproxy log': { ...FAST, rps: 96 },
        'colorproxy fleet': FAST,
        'colorproxy https': { ...FAST, rps: 50 },
        'colorproxy h2': { ...FAST, rps: 44 },
        'nginx https': { ...FAST, rps: 120 },
      }),
    ),
  )
  t.match(rows.get('req/s colorproxy / nginx ≥ 0.50× (c=64)'), { figure: '0.56×', met: true })
  t.match(rows.get('req/s colorproxy / nginx ≥ 0.45× (c=1024)'), { met: true })
  t.match(rows.get('req/s colorproxy / bare raw ≥ 0.90× (c=256)'), { figure: '0.95×', met: true })
  t.match(rows.get('0 socket errors in every round (c=1024)'), { figure: '0', met: true })
  t.match(rows.get('p99 / p50 ≤ 3 in every round, the worst (c=256)'), { figure: '2.50×', met: true })
  t.match(rows.get('p99 colorproxy / caddy ≤ 1× (c=256)'), { figure: '0.67×', met: true })
  t.match(rows.get('access log on / off ≥ 0.95× (c=64)'), { figure: '0.96×', met: true })
  t.match(rows.get('h2 / https h1, colorproxy (c=64) ≥ 0.90×'), { figure: '0.88×', met: false })
  t.match(rows.get('https h1 colorproxy / nginx ≥ 0.45× (c=64)'), { figure: '0.42×', met: false })
  t.match(rows.get('idle RSS ≤ 60 MB'), { figure: '50 MB', met: true })
  t.equal(rows.has('access log on / off ≥ 0.95× (c=1024)'), false, 'the features at c ≤ 256 only')
})

t.test('one bad round fails an "every round" goal; a missing target is not measured', async (t) => {
  const rows = byGoal(
    goals(figures({ colorproxy: { rps: 10, p50: [1, 1, 1], p99: [2, 40, 2], errors: 3 } }, 81)),
  )
  t.match(rows.get('p99 / p50 ≤ 3 in every round, the worst (c=256)'), { figure: '40.00×', met: false })
  t.match(rows.get('0 socket errors in every round (c=1024)'), { figure: '9', met: false })
  t.match(rows.get('req/s colorproxy / nginx ≥ 0.50× (c=64)'), { figure: '-', met: undefined })
  t.match(rows.get('idle RSS ≤ 60 MB'), { met: false })
  const table = goalTable(goals(figures({}, Number.NaN)))
  t.equal(table[0], '| goal | this run | |')
  t.ok(
    table.slice(2).every((line) => line.endsWith('| not measured |')),
    'nothing measured: nothing judged',
  )
})

t.test('HAProxy and Caddy split 4:1, name the pick and keep their upstream connections', async (t) => {
  const haproxy = haproxyConfig(8000, { blue: 9001, green: 9002 })
  t.match(haproxy, /use_backend blue if \{ rand\(5\) lt 4 \}/)
  t.match(
    haproxy,
    /backend blue\n {2}http-reuse always\n {2}http-request set-header Color blue\n {2}server blue 127\.0\.0\.1:9001/,
  )
  t.match(haproxy, /nbthread 1/)
  const caddy = caddyfile(8000, { blue: 9001, green: 9002 })
  t.match(caddy, /reverse_proxy (127\.0\.0\.1:9001 ){4}127\.0\.0\.1:9002 \{/)
  t.match(caddy, /lb_policy round_robin/)
  t.match(caddy, /header_up Color/)
})

t.test('each peer runs its configuration from a file of its own', async (t) => {
  const backends = { blue: 9001, green: 9002 }
  const haproxy = haproxyArgs(8000, backends)
  t.same(haproxy.slice(0, 2), ['-db', '-f'])
  t.equal(readFileSync(haproxy[2] as string, 'utf8'), haproxyConfig(8000, backends))
  const caddy = caddyArgs(8001, backends)
  t.teardown(() => {
    for (const file of [haproxy[2], caddy[4]])
      rmSync(dirname(file as string), { recursive: true, force: true })
  })
  t.same(caddy.slice(0, 4), ['run', '--adapter', 'caddyfile', '--config'])
  t.equal(readFileSync(caddy[4] as string, 'utf8'), caddyfile(8001, backends))
})
