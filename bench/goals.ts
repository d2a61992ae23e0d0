// The goals of issue 14, read from one bench run: each one's figure, its bar, and whether it is met.
// Ratios are medians of per-round ratios (targets measured side by side), never absolute numbers.

export interface Figures {
  /** The median over rounds of a's figure over b's, at c connections; NaN when either is missing. */
  ratio(a: string, b: string, c: number, of: 'rps' | 'p99' | 'rss'): number
  /** The median of one target's figure at c connections. */
  value(target: string, c: number, of: 'rps' | 'p50' | 'p99' | 'connectErrors' | 'idleRss'): number
  /** The open-loop run's p99 of colorproxy over nginx's at the same fixed rate. */
  openLoopP99: number
  connections: readonly number[]
}

export interface Goal {
  goal: string
  figure: string
  met: boolean | undefined
}

const x = (n: number) => (Number.isNaN(n) ? '-' : `${n.toFixed(2)}×`)
const judge = (n: number, ok: (n: number) => boolean) => (Number.isNaN(n) ? undefined : ok(n))

/** Every goal with its figure: `met` undefined when this run could not measure it. */
export function goals(figures: Figures): Goal[] {
  const { ratio, value, connections } = figures
  const rows: Goal[] = []
  for (const c of connections.filter((n) => n <= 256)) {
    const vsNginx = ratio('colorproxy', 'nginx', c, 'rps')
    rows.push({
      goal: `req/s colorproxy / nginx ≥ 0.45× (c=${c})`,
      figure: x(vsNginx),
      met: judge(vsNginx, (n) => n >= 0.45),
    })
    // The figure for "today" (before it): 5,728 / 32,314 = 0.18× at c=64, 4,308 / 23,154 = 0.19× at c=256.
    const before = c === 64 ? 5728 / 32314 : 4308 / 23154
    rows.push({
      goal: `… as a step, ≥ 2× the issue's ${before.toFixed(2)}× (c=${c})`,
      figure: x(vsNginx),
      met: judge(vsNginx, (n) => n >= 2 * before),
    })
    // The bare proxy on colorproxy's own engine (bench/raw-proxy.ts): what its features cost.
    const vsBare = ratio('colorproxy', 'bare raw', c, 'rps')
    rows.push({
      goal: `req/s colorproxy / bare raw (same engine) ≥ 0.9× (c=${c})`,
      figure: x(vsBare),
      met: judge(vsBare, (n) => n >= 0.9),
    })
    const fleet = ratio('colorproxy fleet', 'colorproxy', c, 'rps')
    rows.push({
      goal: `FLEET_STORE is nearly free: with / without ≥ 0.98× (c=${c})`,
      figure: x(fleet),
      met: judge(fleet, (n) => n >= 0.98),
    })
    const log = ratio('colorproxy log', 'colorproxy', c, 'rps')
    rows.push({
      goal: `access log costs ≤ 10%: log on / off ≥ 0.9× (c=${c})`,
      figure: x(log),
      met: judge(log, (n) => n >= 0.9),
    })
  }
  for (const c of connections.filter((n) => n >= 256)) {
    const errors = value('colorproxy', c, 'connectErrors')
    rows.push({
      goal: `0 connect errors (c=${c})`,
      figure: String(errors),
      met: judge(errors, (n) => n === 0),
    })
    const tail = value('colorproxy', c, 'p99') / value('colorproxy', c, 'p50')
    rows.push({ goal: `p99 ≤ 3× p50 (c=${c})`, figure: x(tail), met: judge(tail, (n) => n <= 3) })
  }
  const open = figures.openLoopP99
  rows.push({
    goal: 'open loop at half the max rate: p99 colorproxy / nginx ≤ 2×',
    figure: x(open),
    met: judge(open, (n) => n <= 2),
  })
  const rss = ratio('colorproxy', 'bare raw', 256, 'rss')
  rows.push({
    goal: 'RSS under c=256 ≤ 1.1× bare raw (same engine)',
    figure: x(rss),
    met: judge(rss, (n) => n <= 1.1),
  })
  const idle = value('colorproxy', connections[0] as number, 'idleRss')
  rows.push({
    goal: 'idle RSS ≤ 60 MB',
    figure: Number.isNaN(idle) ? '-' : `${idle.toFixed(0)} MB`,
    met: judge(idle, (n) => n <= 60),
  })
  for (const c of connections.filter((n) => n <= 256)) {
    const workers = ratio('colorproxy WORKERS=2', 'colorproxy', c, 'rps')
    rows.push({
      goal: `WORKERS=2 / one worker ≥ 1.6× (c=${c})`,
      figure: x(workers),
      met: judge(workers, (n) => n >= 1.6),
    })
  }
  return rows
}

/** The goals as a Markdown table. */
export function goalTable(rows: readonly Goal[]): string[] {
  const mark = (met: boolean | undefined) => (met === undefined ? 'not measured' : met ? 'met' : 'NOT met')
  return [
    '| goal | this run | |',
    '|---|---:|---|',
    ...rows.map((row) => `| ${row.goal} | ${row.figure} | ${mark(row.met)} |`),
  ]
}
