// The goals of issue 27 (and issue 26's for the fleet), read from one bench run: each one's figure, its
// bar, and whether it is met. Ratios are medians of per-round ratios (targets measured side by side), never
// absolute numbers; "in every round" goals take the worst round.

export type Of = 'rps' | 'p50' | 'p99' | 'rss' | 'errors' | 'connectErrors' | 'cpu'

export interface Figures {
  /** The median over rounds of a's figure over b's, at c connections; NaN when either is missing. */
  ratio(a: string, b: string, c: number, of: 'rps' | 'p99' | 'rss' | 'cpu'): number
  /** The median of one target's figure at c connections (idleRss: once, at its start). */
  value(target: string, c: number, of: Of | 'idleRss'): number
  /** One target's figure in each round at c connections, in order; empty when not measured. */
  perRound(target: string, c: number, of: Of): number[]
  connections: readonly number[]
}

export interface Goal {
  goal: string
  figure: string
  met: boolean | undefined
}

const x = (n: number) => (Number.isNaN(n) ? '-' : `${n.toFixed(2)}×`)
const judge = (n: number, ok: (n: number) => boolean) => (Number.isNaN(n) ? undefined : ok(n))
const row = (goal: string, n: number, ok: (n: number) => boolean, figure = x(n)): Goal => ({
  goal,
  figure,
  met: judge(n, ok),
})

/** Every goal with its figure: `met` undefined when this run could not measure it. */
export function goals(figures: Figures): Goal[] {
  const { connections } = figures
  return [
    ...connections.flatMap((c) => throughput(figures, c)),
    ...connections.filter((c) => c === 256).flatMap((c) => tail(figures, c)),
    ...connections.filter((c) => c <= 256).flatMap((c) => features(figures, c)),
    ...tls(figures, connections[0] as number),
    memory(figures, connections[0] as number),
  ]
}

/** Half of nginx at every load (0.45× at c=1024, with no error), and what the features cost. */
function throughput({ ratio, perRound }: Figures, c: number): Goal[] {
  const bar = c >= 1024 ? 0.45 : 0.5
  const rows = [
    row(
      `req/s colorproxy / nginx ≥ ${bar.toFixed(2)}× (c=${c})`,
      ratio('colorproxy', 'nginx', c, 'rps'),
      (n) => n >= bar,
    ),
    row(
      `req/s colorproxy / bare raw ≥ 0.90× (c=${c})`,
      ratio('colorproxy', 'bare raw', c, 'rps'),
      (n) => n >= 0.9,
    ),
  ]
  if (c >= 1024) {
    const errors = perRound('colorproxy', c, 'errors')
    const sum = errors.length === 0 ? Number.NaN : errors.reduce((a, b) => a + b, 0)
    rows.push(row(`0 socket errors in every round (c=${c})`, sum, (n) => n === 0, String(sum)))
  }
  return rows
}

/** The tail at c=256: p99 within 3× p50 in the worst round, and no longer than Caddy's. */
function tail({ ratio, perRound }: Figures, c: number): Goal[] {
  const p50 = perRound('colorproxy', c, 'p50')
  const ratios = perRound('colorproxy', c, 'p99').map((p99, i) => p99 / (p50[i] as number))
  const worst = ratios.length === 0 ? Number.NaN : Math.max(...ratios)
  return [
    row(`p99 / p50 ≤ 3 in every round, the worst (c=${c})`, worst, (n) => n <= 3),
    row(`p99 colorproxy / caddy ≤ 1× (c=${c})`, ratio('colorproxy', 'caddy', c, 'p99'), (n) => n <= 1),
  ]
}

/** The access log and FLEET_STORE nearly free. */
function features({ ratio }: Figures, c: number): Goal[] {
  return [
    row(
      `access log on / off ≥ 0.95× (c=${c})`,
      ratio('colorproxy log', 'colorproxy', c, 'rps'),
      (n) => n >= 0.95,
    ),
    row(
      `FLEET_STORE with / without ≥ 0.98× (c=${c})`,
      ratio('colorproxy fleet', 'colorproxy', c, 'rps'),
      (n) => n >= 0.98,
    ),
  ]
}

/** HTTP/2 as fast as HTTP/1.1 over TLS, and HTTPS at half of nginx's less a tenth. */
function tls({ ratio }: Figures, c: number): Goal[] {
  return [
    row(
      `h2 / https h1, colorproxy (c=${c}) ≥ 0.90×`,
      ratio('colorproxy h2', 'colorproxy https', c, 'rps'),
      (n) => n >= 0.9,
    ),
    row(
      `https h1 colorproxy / nginx ≥ 0.45× (c=${c})`,
      ratio('colorproxy https', 'nginx https', c, 'rps'),
      (n) => n >= 0.45,
    ),
  ]
}

function memory({ value }: Figures, c: number): Goal {
  const idle = value('colorproxy', c, 'idleRss')
  return row('idle RSS ≤ 60 MB', idle, (n) => n <= 60, Number.isNaN(idle) ? '-' : `${idle.toFixed(0)} MB`)
}

/** The goals as a Markdown table. */
export function goalTable(rows: readonly Goal[]): string[] {
  const mark = (met: boolean | undefined) => (met === undefined ? 'not measured' : met ? 'met' : 'NOT met')
  return [
    '| goal | this run | |',
    '|---|---:|---|',
    ...rows.map((one) => `| ${one.goal} | ${one.figure} | ${mark(one.met)} |`),
  ]
}
