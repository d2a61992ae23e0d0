#!/usr/bin/env node
// npm run bench: colorproxy against nginx doing the same job and against a direct connection, on this
// machine, in one run. Core 0 runs the proxy under test; core 1 runs wrk (or autocannon) and the
// backends. Targets take turns (A/B/A/B) over several rounds and the report gives medians and the median
// of per-round ratios, because on a small shared machine only ratios measured side by side mean anything.
//
// Then one open-loop run (a fixed rate, half colorproxy's own maximum) for the tail, and the goals of
// issue 27 in one table, each said met or not.
//
// Usage: npm run bench [-- --duration 10 --rounds 3 --connections 64,256,1024 --warmup 10]
//        npm run bench -- --against ../before   (another built checkout's colorproxy beside this one's,
//                                                in the same turns: a hot-path change's before and after)
//        npm run bench -- --only nginx,colorproxy,'colorproxy log'   (just those targets)
//        npm run bench -- --soak 1000000    (RSS of colorproxy every 10 s over that many requests at c=256)
//        npm run bench -- --timeline 60     (colorproxy alone at c=256: latency by 5 s window and by
//                                            connection order, GC pauses, event-loop delay)
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, existsSync, mkdtempSync } from 'node:fs'
import { connect } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { backendsConfig, proxyConfig, tlsProxyConfig } from './nginx.js'
import { type Figures, goals, goalTable, type Of } from './goals.js'
import { caddyArgs, haproxyArgs } from './peers.js'
import { cpuSeconds } from './proc.js'
import { gcPauses, type TimelineSummary, timelineTables } from './timeline.js'
import { freePort, hasCommand, type Pinned, rssMb, sampleRss, startPinned, waitFor200 } from './processes.js'
import { parseAutocannon } from './autocannon.js'
import { type LoadResult, median, parseH2load, parseWrk } from './wrk.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64,256,1024' },
    soak: { type: 'string' },
    warmup: { type: 'string', default: '10' },
    timeline: { type: 'string' },
    against: { type: 'string' },
    only: { type: 'string' },
  },
})
const durationS = Number(values.duration)
const rounds = Number(values.rounds)
const connections = values.connections.split(',').map(Number)
const warmupS = Number(values.warmup)
/** --only: the names of the targets to measure (with --against, their twins come too). */
const only = values.only?.split(',').map((name) => name.trim())

const dist = join(dirname(fileURLToPath(import.meta.url)), '..')
/** --against: another checkout, built (npm run build), whose colorproxy runs beside this one's. */
const against = values.against === undefined ? undefined : join(resolve(values.against), 'dist')
if (against !== undefined && !existsSync(join(against, 'src/main.js'))) {
  process.stderr.write(
    `bench: --against ${values.against}: no dist/src/main.js there (npm run build in it)\n`,
  )
  process.exit(1)
}
/** The targets that --against doubles: each gets a twin named `<name> (against)`. */
const TWINNED = ['colorproxy', 'colorproxy log']
const PROXY_CORE = '0'
const LOAD_CORE = availableParallelism() > 1 ? '1' : '0'

const AUTOCANNON = join(dist, '../node_modules/.bin/autocannon')
const withWrk = hasCommand('wrk')
if (!hasCommand('taskset') || (!withWrk && !existsSync(AUTOCANNON))) {
  process.stderr.write(
    'bench: needs taskset and wrk (or autocannon from npm install). On Debian or Ubuntu:\n  sudo apt-get install -y wrk nginx-light util-linux\n',
  )
  process.exit(1)
}
const withNginx = hasCommand('nginx')

interface Target {
  name: string
  url: string
  pid: number
  /** Driven over HTTP/2 with h2load (one stream at a time per connection), not wrk. */
  h2?: boolean
  /** Measured at the first connection count only (TLS, sites): the goals need the others at each one. */
  once?: boolean
  /** RSS right after it started, before any load. */
  idleRssMb?: number
  /** colorproxy's admin listener. */
  admin?: string
}

const started: Pinned[] = []
async function start(
  name: string,
  cores: string,
  command: string,
  args: string[],
  url: string,
  readyUrl: string,
  env: Record<string, string> = {},
): Promise<Target> {
  const pinned = startPinned(cores, command, args, env)
  started.push(pinned)
  await waitFor200(readyUrl)
  const pid = pinned.child.pid as number
  return { name, url, pid, idleRssMb: rssMb(pid) }
}

async function colorproxy(
  name: string,
  cores: string,
  backends: { blue: number; green: number },
  env: Record<string, string>,
  nodeArgs: string[] = [],
  tree = dist,
): Promise<Target> {
  const [port, adminPort] = [await freePort(), await freePort()]
  const target = await start(
    name,
    cores,
    process.execPath,
    [...nodeArgs, join(tree, 'src/main.js')],
    `http://127.0.0.1:${port}/`,
    `http://127.0.0.1:${adminPort}/readyz`,
    {
      BLUE: `http://127.0.0.1:${backends.blue}`,
      GREEN: `http://127.0.0.1:${backends.green}`,
      BLUE_WEIGHT: '4',
      GREEN_WEIGHT: '1',
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      LOG_LEVEL: 'warn',
      ...env,
    },
  )
  return { ...target, admin: `http://127.0.0.1:${adminPort}` }
}

/** colorproxy from this tree, and with --against the same from the other tree right after it. */
async function twinned(
  name: string,
  backends: { blue: number; green: number },
  env: Record<string, string>,
): Promise<Target[]> {
  const mine = await colorproxy(name, PROXY_CORE, backends, env)
  if (against === undefined) return [mine]
  return [mine, await colorproxy(`${name} (against)`, PROXY_CORE, backends, env, [], against)]
}

/** colorproxy with FLEET_STORE (a redis-server of its own on the load core); undefined without redis-server. */
async function fleetTarget(backends: { blue: number; green: number }): Promise<Target | undefined> {
  if (!hasCommand('redis-server')) {
    say('fleet: redis-server is not installed (apt-get install -y redis-server): no FLEET_STORE row')
    return undefined
  }
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  started.push(startPinned(LOAD_CORE, 'redis-server', args))
  await listening(port)
  return colorproxy('colorproxy fleet', PROXY_CORE, backends, { FLEET_STORE: `redis://127.0.0.1:${port}` })
}

/** Drives `url` from the load core with wrk, or autocannon when wrk is not installed (h2load for h2). */
async function load(url: string, connectionCount: number, seconds: number, h2 = false): Promise<LoadResult> {
  if (h2) {
    const args = ['h2load', '-t1', `-c${connectionCount}`, '-m1', '-D', String(seconds), url]
    const child = spawn('taskset', ['-c', LOAD_CORE, ...args], { stdio: ['ignore', 'pipe', 'ignore'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    await once(child, 'exit')
    return parseH2load(output)
  }
  const command = withWrk
    ? ['wrk', '-t1', `-c${connectionCount}`, `-d${seconds}s`, '--latency', url]
    : [process.execPath, AUTOCANNON, '--json', '-c', String(connectionCount), '-d', String(seconds), url]
  const child = spawn('taskset', ['-c', LOAD_CORE, ...command], { stdio: ['ignore', 'pipe', 'ignore'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  await once(child, 'exit')
  return withWrk ? parseWrk(output) : parseAutocannon(output)
}

function say(line: string): void {
  process.stdout.write(`${line}\n`)
}

/** Drives colorproxy in 10 s steps until `total` requests, printing its RSS after each: flat means no leak. */
async function soak(target: Target, total: number): Promise<void> {
  say(`soak: ${total} requests to colorproxy at c=256, its RSS after every 10 s`)
  let done = 0
  for (let step = 1; done < total; step++) {
    const result = await load(target.url, 256, 10)
    done += result.requests
    say(
      `  ${String(done).padStart(9)} requests  RSS ${rssMb(target.pid).toFixed(0)} MB  (${Math.round(result.requestsPerSecond)} req/s, ${result.errors} errors)`,
    )
  }
}

async function main(): Promise<void> {
  const backends = { blue: await freePort(), green: await freePort() }
  if (!values.soak && !values.timeline) {
    say(
      `bench: ${rounds} rounds of ${durationS} s per target and connection count (${connections.join(', ')})`,
    )
  }
  say(
    `cores: proxy under test on core ${PROXY_CORE}; wrk -t1 and the backends on core ${LOAD_CORE} (taskset); ${availableParallelism()} cores in all`,
  )
  if (!withWrk) {
    say('load: autocannon (wrk is not installed: apt-get install -y wrk). autocannon is a Node program and')
    say('      needs more CPU per request than wrk on the shared core, so every req/s here reads lower.')
  }
  if (withNginx) {
    started.push(startPinned(LOAD_CORE, 'nginx', backendsConfig(backends)))
    say('backends: nginx (one worker), a fixed body per color')
  } else {
    started.push(
      startPinned(LOAD_CORE, process.execPath, [
        join(dist, 'bench/backend.js'),
        String(backends.blue),
        String(backends.green),
      ]),
    )
    say('backends: node:http (nginx is not installed: apt-get install -y nginx-light for the reference)')
    say('          without nginx there is no nginx reference row and no colorproxy/nginx ratio')
  }
  await waitFor200(`http://127.0.0.1:${backends.blue}/`)
  await waitFor200(`http://127.0.0.1:${backends.green}/`)

  if (values.soak) {
    await soak(await colorproxy('colorproxy', PROXY_CORE, backends, {}), Number(values.soak))
    return
  }
  if (values.timeline) {
    await timelineRun(backends, Number(values.timeline))
    return
  }
  const blueUrl = `http://127.0.0.1:${backends.blue}/`
  const targets: Target[] = [{ name: 'direct', url: blueUrl, pid: 0 }]
  if (withNginx) {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}/`
    targets.push(await start('nginx', PROXY_CORE, 'nginx', proxyConfig(port, backends), url, url))
  }
  targets.push(...(await peerTargets(backends)))
  targets.push(...(await bareTargets(blueUrl)))
  targets.push(...(await twinned('colorproxy', backends, {})))
  targets.push(...(await twinned('colorproxy log', backends, { LOG_LEVEL: 'info' })))
  const fleet = await fleetTarget(backends)
  if (fleet) targets.push(fleet)
  const allCores = `0-${availableParallelism() - 1}`
  targets.push(await colorproxy('colorproxy WORKERS=2', allCores, backends, { WORKERS: '2' }))
  const once = (list: Target[]) => list.map((target) => ({ ...target, once: true }))
  targets.push(...once(await tlsTargets(backends)))
  targets.push(...once(await siteTargets(backends)))
  say(
    'targets: direct (straight to the blue backend), nginx (split_clients 4:1, Color, keepalive; one worker),\n' +
      '         haproxy (rand(5) < 4, Color, http-reuse always; one thread), caddy (round robin over\n' +
      '         blue x4 + green, its upstream in Color, keepalive; GOMAXPROCS=1),\n' +
      '         bare stream / bare dispatch (node:http + one undici Pool, no features: Pool.stream, Pool.dispatch),\n' +
      "         bare raw (colorproxy's engine, route (c), bare: node:http + pooled node:net sockets framed by llhttp),\n" +
      '         colorproxy (LOG_LEVEL=warn), colorproxy log (the access log on, read through a pipe),\n' +
      '         colorproxy fleet (FLEET_STORE: a redis-server on the load core, no canary),\n' +
      `         colorproxy WORKERS=2 (LOG_LEVEL=warn; on cores ${allCores}, so it shares a core with wrk and the backends)`,
  )

  if (against !== undefined) say(`against: ${against}'s colorproxy, in the turns right after this tree's`)
  if (only !== undefined) {
    const kept = targets.filter((target) => only.includes(target.name.replace(/ \(against\)$/, '')))
    targets.splice(0, targets.length, ...kept)
    say(`only: ${kept.map((target) => target.name).join(', ')}`)
  }

  // Warm up: the JIT, the pools, and the first mark-compacts (npm run bench -- --timeline shows when
  // they come) before anything is measured.
  say(`warm-up: ${warmupS} s per target`)
  for (const target of targets) await load(target.url, 64, warmupS, target.h2)

  const results = await measure(targets)
  report(targets, results)
  const figures = figuresOf(results, targets)
  const open = await openLoop(targets, figures.value('colorproxy', connections[0] as number, 'rps'))
  if (!Number.isNaN(open))
    say(`  p99 colorproxy / nginx at that rate: ${open.toFixed(2)}× (median of rounds)`)
  say('')
  say('Goals (issue 27):')
  for (const line of goalTable(goals(figures))) say(line)
}

/**
 * colorproxy alone at c=256 for `seconds`, after the warm-up: latency per 5 s window and by the order the
 * connections were opened (bench/timeline.ts), its GC pauses (--trace-gc) and event-loop delay in the
 * same window.
 */
async function timelineRun(backends: { blue: number; green: number }, seconds: number): Promise<void> {
  const c = connections.length === 1 ? (connections[0] as number) : 256
  const bornAt = Date.now()
  const target = await colorproxy('colorproxy', PROXY_CORE, backends, {}, ['--trace-gc'])
  let trace = ''
  started
    .at(-1)
    ?.child.stdout?.setEncoding('utf8')
    .on('data', (chunk: string) => (trace += chunk))
  say(`timeline: colorproxy at c=${c} for ${seconds} s, after ${warmupS} s of warm-up at c=${c}`)
  await load(target.url, c, warmupS)
  await fetch(`${target.admin}/metrics`).then((answer) => answer.text())
  const fromMs = Date.now() - bornAt
  const child = spawn(
    'taskset',
    [
      '-c',
      LOAD_CORE,
      process.execPath,
      join(dist, 'bench/timeline-load.js'),
      target.url,
      String(c),
      String(seconds),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  await once(child, 'exit')
  const toMs = Date.now() - bornAt
  const metrics = await fetch(`${target.admin}/metrics`).then((answer) => answer.text())
  const summary = JSON.parse(output) as TimelineSummary & { errors: number }
  for (const line of timelineTables(summary)) say(line)
  say('')
  say(`errors: ${summary.errors}`)
  const gc = gcPauses(trace, fromMs, toMs)
  say(
    `GC in the window (--trace-gc): ${gc.scavenges} scavenges (longest ${gc.maxScavengeMs} ms), ` +
      `${gc.markCompacts} mark-compacts (longest ${gc.maxMarkCompactMs} ms)`,
  )
  const delay = [...metrics.matchAll(/^colorproxy_event_loop_delay_seconds\{quantile="([\d.]+)"\} (\S+)$/gm)]
  say(
    `event-loop delay in the window: ${delay.map(([, q, v]) => `q${q} ${(Number(v) * 1000).toFixed(1)} ms`).join(', ')}`,
  )
}

interface Run {
  result: LoadResult
  rssMb: number
  /** The proxy's CPU time (user + system, its whole process tree) per request, in µs. */
  cpuUs: number
}
type Results = Map<string, Run[]>
const key = (target: string, c: number) => `${target} c=${c}`

/** Every target at every connection count, taking turns, `rounds` times. */
async function measure(targets: readonly Target[]): Promise<Results> {
  const results: Results = new Map()
  for (let round = 1; round <= rounds; round++) {
    for (const [i, c] of connections.entries()) {
      for (const target of targets) {
        if (target.once && i > 0) continue
        const stopSampling = target.pid ? sampleRss(target.pid) : () => 0
        const cpuBefore = target.pid ? cpuSeconds(target.pid) : 0
        const result = await load(target.url, c, durationS, target.h2)
        const cpuUs = target.pid ? ((cpuSeconds(target.pid) - cpuBefore) * 1e6) / result.requests : Number.NaN
        const runs = results.get(key(target.name, c)) ?? []
        runs.push({ result, rssMb: stopSampling(), cpuUs })
        results.set(key(target.name, c), runs)
      }
    }
    say(`round ${round}/${rounds} done`)
  }
  return results
}

function report(targets: readonly Target[], results: Results): void {
  say('')
  say('| target | conns | req/s | p50 ms | p99 ms | CPU µs/req | idle RSS MB | peak RSS MB | errors |')
  say('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const c of connections) {
    for (const target of targets) {
      const runs = results.get(key(target.name, c))
      if (!runs) continue
      const of = (pick: (run: Run) => number) => median(runs.map(pick))
      const p99 = of((run) => run.result.p99Ms)
      const rss = Math.max(...runs.map((run) => run.rssMb))
      const errors = runs.reduce((sum, run) => sum + run.result.errors, 0)
      const cpu = of((run) => run.cpuUs)
      say(
        `| ${target.name} | ${c} | ${Math.round(of((run) => run.result.requestsPerSecond))} | ${of((run) => run.result.p50Ms).toFixed(2)} | ${Number.isNaN(p99) ? '-' : p99.toFixed(2)} | ${Number.isNaN(cpu) ? '-' : cpu.toFixed(0)} | ${target.idleRssMb?.toFixed(0) ?? '-'} | ${target.pid ? rss.toFixed(0) : '-'} | ${errors} |`,
      )
    }
  }
  const figures = figuresOf(results, targets)
  say('')
  say('| ratio (median of per-round ratios) | ' + connections.map((c) => `c=${c}`).join(' | ') + ' |')
  say('|---|' + connections.map(() => '---:|').join(''))
  const rows: [string, string, string, 'rps' | 'p99' | 'rss' | 'cpu'][] = [
    ['req/s colorproxy / nginx', 'colorproxy', 'nginx', 'rps'],
    ['req/s colorproxy / direct', 'colorproxy', 'direct', 'rps'],
    ['req/s colorproxy / bare raw', 'colorproxy', 'bare raw', 'rps'],
    ['req/s colorproxy / bare dispatch', 'colorproxy', 'bare dispatch', 'rps'],
    ['req/s bare dispatch / bare stream', 'bare dispatch', 'bare stream', 'rps'],
    ['req/s bare raw / bare dispatch', 'bare raw', 'bare dispatch', 'rps'],
    ['req/s nginx / direct', 'nginx', 'direct', 'rps'],
    ['req/s colorproxy / caddy', 'colorproxy', 'caddy', 'rps'],
    ['req/s haproxy / colorproxy', 'haproxy', 'colorproxy', 'rps'],
    ['p99 colorproxy / nginx', 'colorproxy', 'nginx', 'p99'],
    ['p99 colorproxy / caddy', 'colorproxy', 'caddy', 'p99'],
    ['p99 colorproxy / haproxy', 'colorproxy', 'haproxy', 'p99'],
    ['req/s access log on / off', 'colorproxy log', 'colorproxy', 'rps'],
    ['req/s FLEET_STORE / alone', 'colorproxy fleet', 'colorproxy', 'rps'],
    ['req/s WORKERS=2 / WORKERS=1', 'colorproxy WORKERS=2', 'colorproxy', 'rps'],
    ['req/s https h1 colorproxy / nginx', 'colorproxy https', 'nginx https', 'rps'],
    ['req/s https h2 colorproxy / nginx', 'colorproxy h2', 'nginx h2', 'rps'],
    ['req/s colorproxy https / http', 'colorproxy https', 'colorproxy', 'rps'],
    ['req/s 50 sites / 1 site', 'colorproxy 50 sites', 'colorproxy 1 site', 'rps'],
    ...TWINNED.flatMap((name): [string, string, string, 'rps' | 'cpu'][] => [
      [`req/s ${name} / against`, name, `${name} (against)`, 'rps'],
      [`CPU µs/req ${name} / against`, name, `${name} (against)`, 'cpu'],
    ]),
  ]
  for (const [label, a, b, of] of rows) {
    const cells = connections
      .map((c) => figures.ratio(a, b, c, of))
      .map((n) => (Number.isNaN(n) ? '-' : `${n.toFixed(2)}×`))
    say(`| ${label} | ${cells.join(' | ')} |`)
  }
}

/** The run's figures as the goals read them. */
function figuresOf(results: Results, targets: readonly Target[]): Figures {
  const pick: Record<Of, (run: Run) => number> = {
    rps: (run) => run.result.requestsPerSecond,
    p50: (run) => run.result.p50Ms,
    p99: (run) => run.result.p99Ms,
    rss: (run) => run.rssMb,
    errors: (run) => run.result.errors,
    connectErrors: (run) => run.result.connectErrors,
    cpu: (run) => run.cpuUs,
  }
  const perRound = (target: string, c: number, of: Of) => (results.get(key(target, c)) ?? []).map(pick[of])
  return {
    connections,
    perRound,
    ratio(a, b, c, of) {
      const as = results.get(key(a, c))
      const bs = results.get(key(b, c))
      if (!as || !bs) return Number.NaN
      return median(as.map((run, i) => pick[of](run) / pick[of](bs[i] as Run)))
    },
    value(target, c, of) {
      if (of === 'idleRss') return targets.find((one) => one.name === target)?.idleRssMb ?? Number.NaN
      return median(perRound(target, c, of))
    },
  }
}

/**
 * The tail at a load colorproxy can carry: nginx and colorproxy in turns at one fixed rate (half
 * colorproxy's own maximum at the first connection count), with autocannon's --overallRate (Debian has no
 * wrk2). Returns the median of per-round p99 ratios, colorproxy over nginx.
 */
async function openLoop(targets: readonly Target[], maxRate: number): Promise<number> {
  const nginx = targets.find((target) => target.name === 'nginx')
  const proxy = targets.find((target) => target.name === 'colorproxy')
  if (!nginx || !proxy || !existsSync(AUTOCANNON) || Number.isNaN(maxRate)) return Number.NaN
  const rate = Math.round(maxRate / 2)
  const c = connections[0] as number
  const ratios: number[] = []
  say('')
  say(
    `open loop: ${rate} req/s (half colorproxy's c=${c} maximum) over ${c} connections, ${durationS} s each`,
  )
  for (let round = 1; round <= rounds; round++) {
    const [a, b] = [await fixedRate(nginx.url, c, rate), await fixedRate(proxy.url, c, rate)]
    say(
      `  round ${round}: nginx p50 ${a.p50Ms} ms p99 ${a.p99Ms} ms; colorproxy p50 ${b.p50Ms} ms p99 ${b.p99Ms} ms`,
    )
    ratios.push(b.p99Ms / a.p99Ms)
  }
  return median(ratios)
}

async function fixedRate(url: string, c: number, rate: number): Promise<LoadResult> {
  const args = ['--json', '-c', String(c), '-R', String(rate), '-d', String(durationS), url]
  const child = spawn('taskset', ['-c', LOAD_CORE, process.execPath, AUTOCANNON, ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  await once(child, 'exit')
  return parseAutocannon(output)
}

/** HAProxy and Caddy doing colorproxy's job on its core (bench/peers.ts), each when it is installed. */
async function peerTargets(backends: { blue: number; green: number }): Promise<Target[]> {
  const targets: Target[] = []
  const peers: [string, (port: number) => string[], Record<string, string>][] = [
    ['haproxy', (port) => haproxyArgs(port, backends), {}],
    ['caddy', (port) => caddyArgs(port, backends), { GOMAXPROCS: '1' }],
  ]
  for (const [name, args, env] of peers) {
    if (!hasCommand(name)) {
      say(`${name} is not installed (apt-get install -y ${name}): no ${name} row`)
      continue
    }
    const port = await freePort()
    const url = `http://127.0.0.1:${port}/`
    targets.push(await start(name, PROXY_CORE, name, args(port), url, url, env))
  }
  return targets
}

/**
 * The bare engines in front of the blue backend, on the proxy's core: bench/bare-proxy.ts (undici, two
 * ways) and bench/raw-proxy.ts (route (c): pooled node:net sockets framed by Node's llhttp).
 */
async function bareTargets(blueUrl: string): Promise<Target[]> {
  const origin = blueUrl.replace(/\/$/, '')
  const { hostname, port: backendPort } = new URL(blueUrl)
  const engines: [string, string, string[]][] = [
    ['bare stream', 'bare-proxy.js', ['stream', origin]],
    ['bare dispatch', 'bare-proxy.js', ['dispatch', origin]],
    ['bare raw', 'raw-proxy.js', [hostname, backendPort]],
  ]
  const targets: Target[] = []
  for (const [name, file, args] of engines) {
    const port = String(await freePort())
    const url = `http://127.0.0.1:${port}/`
    // bare-proxy.js takes the mode first, raw-proxy.js the port first.
    const argv = file === 'raw-proxy.js' ? [port, ...args] : [args[0] as string, port, args[1] as string]
    targets.push(
      await start(name, PROXY_CORE, process.execPath, [join(dist, 'bench', file), ...argv], url, url),
    )
  }
  return targets
}

/**
 * SITES: the same request (`/api/x`, a path site, so the host levels are missed first) to a proxy with
 * that one site and to one with 49 others beside it (exact hosts, wildcards, paths): the matcher's cost.
 */
async function siteTargets(backends: { blue: number; green: number }): Promise<Target[]> {
  const api = {
    API_PATHS: '/api',
    API_BLUE: `http://127.0.0.1:${backends.blue}`,
    API_GREEN: `http://127.0.0.1:${backends.green}`,
    API_BLUE_WEIGHT: '4',
  }
  const others: Record<string, string> = {}
  for (let i = 1; i <= 49; i++) {
    others[`S${i}_BLUE`] = `http://127.0.0.1:${backends.blue}`
    if (i <= 35) others[`S${i}_HOSTS`] = `s${i}.bench.test,www.s${i}.bench.test`
    else if (i <= 42) others[`S${i}_HOSTS`] = `*.w${i}.bench.test`
    else others[`S${i}_PATHS`] = `/p${i},/api/v${i}`
  }
  const names = Array.from({ length: 49 }, (_, i) => `s${i + 1}`)
  const one = await colorproxy('colorproxy 1 site', PROXY_CORE, backends, { SITES: 'api', ...api })
  const fifty = await colorproxy('colorproxy 50 sites', PROXY_CORE, backends, {
    SITES: [...names, 'api'].join(','),
    ...others,
    ...api,
  })
  say('site targets: GET /api/x to the site api, alone (1 site) or beside 49 others (50 sites)')
  return [one, fifty].map((target) => ({ ...target, url: `${target.url}api/x` }))
}

/**
 * TLS terminated by nginx and by colorproxy with one throwaway certificate: HTTP/1.1 over TLS with wrk,
 * and HTTP/2 with h2load (Debian's nghttp2-client) when it is installed. Connections are kept, so this
 * measures TLS's per-request cost, not handshakes.
 */
async function tlsTargets(backends: { blue: number; green: number }): Promise<Target[]> {
  if (!withWrk || !hasCommand('openssl')) return []
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-bench-tls-'))
  const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')]
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ]),
    { stdio: 'ignore' },
  )
  chmodSync(dir, 0o755)
  chmodSync(keyFile, 0o644)
  const targets: Target[] = []
  const h2 = hasCommand('h2load')
  if (withNginx) {
    const port = await freePort()
    const url = `https://127.0.0.1:${port}/`
    const pinned = startPinned(PROXY_CORE, 'nginx', tlsProxyConfig(port, backends, { certFile, keyFile }))
    started.push(pinned)
    await listening(port)
    targets.push({ name: 'nginx https', url, pid: pinned.child.pid as number })
    if (h2) targets.push({ name: 'nginx h2', url, pid: pinned.child.pid as number, h2: true })
  }
  const httpsPort = await freePort()
  const proxy = await colorproxy('colorproxy https', PROXY_CORE, backends, {
    HTTPS_PORT: String(httpsPort),
    TLS_CERT_FILE: certFile,
    TLS_KEY_FILE: keyFile,
  })
  const url = `https://127.0.0.1:${httpsPort}/`
  targets.push({ ...proxy, url })
  if (h2) targets.push({ ...proxy, name: 'colorproxy h2', url, h2: true })
  say(
    `TLS targets: nginx and colorproxy on one P-256 certificate; https: HTTP/1.1 over TLS (wrk)${h2 ? ', h2: HTTP/2 (h2load -m1)' : ' (h2load not installed: apt-get install -y nghttp2-client)'}`,
  )
  return targets
}

/** Resolves once something accepts TCP connections on the port (nginx takes a moment to bind). */
async function listening(port: number): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    const socket = connect(port, '127.0.0.1')
    const ok = await once(socket, 'connect').then(
      () => true,
      () => false,
    )
    socket.destroy()
    if (ok) return
    await sleep(50)
  }
  throw new Error(`nothing listens on ${port}`)
}

try {
  await main()
} finally {
  await Promise.all(started.map((pinned) => pinned.stop()))
}
