#!/usr/bin/env node
// npm run bench: colorproxy against nginx doing the same job and against a direct connection, on this
// machine, in one run. Core 0 runs the proxy under test; core 1 runs wrk (or autocannon) and the
// backends. Targets take turns (A/B/A/B) over several rounds and the report gives medians and the median
// of per-round ratios, because on a small shared machine only ratios measured side by side mean anything.
//
// Usage: npm run bench [-- --duration 10 --rounds 3 --connections 64,256]
//        npm run bench -- --soak 1000000    (RSS of colorproxy every 10 s over that many requests at c=256)
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, existsSync, mkdtempSync } from 'node:fs'
import { connect } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { backendsConfig, proxyConfig, tlsProxyConfig } from './nginx.js'
import { freePort, hasCommand, type Pinned, rssMb, sampleRss, startPinned, waitFor200 } from './processes.js'
import { parseAutocannon } from './autocannon.js'
import { type LoadResult, median, parseH2load, parseWrk } from './wrk.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64,256' },
    soak: { type: 'string' },
  },
})
const durationS = Number(values.duration)
const rounds = Number(values.rounds)
const connections = values.connections.split(',').map(Number)

const dist = join(dirname(fileURLToPath(import.meta.url)), '..')
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
  return { name, url, pid: pinned.child.pid as number }
}

async function colorproxy(
  name: string,
  cores: string,
  backends: { blue: number; green: number },
  env: Record<string, string>,
): Promise<Target> {
  const [port, adminPort] = [await freePort(), await freePort()]
  return start(
    name,
    cores,
    process.execPath,
    [join(dist, 'src/main.js')],
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
  if (!values.soak) {
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
  const blueUrl = `http://127.0.0.1:${backends.blue}/`
  const targets: Target[] = [{ name: 'direct', url: blueUrl, pid: 0 }]
  if (withNginx) {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}/`
    targets.push(await start('nginx', PROXY_CORE, 'nginx', proxyConfig(port, backends), url, url))
  }
  targets.push(await colorproxy('colorproxy', PROXY_CORE, backends, {}))
  targets.push(await colorproxy('colorproxy log', PROXY_CORE, backends, { LOG_LEVEL: 'info' }))
  const allCores = `0-${availableParallelism() - 1}`
  targets.push(await colorproxy('colorproxy WORKERS=2', allCores, backends, { WORKERS: '2' }))
  targets.push(...(await tlsTargets(backends)))
  targets.push(...(await siteTargets(backends)))
  say(
    'targets: direct (straight to the blue backend), nginx (split_clients 4:1, Color, keepalive; one worker),\n' +
      '         colorproxy (LOG_LEVEL=warn), colorproxy log (the access log on, read through a pipe),\n' +
      `         colorproxy WORKERS=2 (LOG_LEVEL=warn; on cores ${allCores}, so it shares a core with wrk and the backends)`,
  )

  // Warm up: the JIT, the pools.
  for (const target of targets) await load(target.url, 64, 2, target.h2)

  const results = new Map<string, { result: LoadResult; rssMb: number }[]>()
  const key = (target: string, c: number) => `${target} c=${c}`
  for (let round = 1; round <= rounds; round++) {
    for (const c of connections) {
      for (const target of targets) {
        const stopSampling = target.pid ? sampleRss(target.pid) : () => 0
        const result = await load(target.url, c, durationS, target.h2)
        const rssMb = stopSampling()
        const runs = results.get(key(target.name, c)) ?? []
        runs.push({ result, rssMb })
        results.set(key(target.name, c), runs)
      }
    }
    say(`round ${round}/${rounds} done`)
  }

  say('')
  say('| target | conns | req/s | p50 ms | p99 ms | peak RSS MB | errors |')
  say('|---|---:|---:|---:|---:|---:|---:|')
  for (const c of connections) {
    for (const target of targets) {
      const runs = results.get(key(target.name, c)) ?? []
      const rps = median(runs.map((run) => run.result.requestsPerSecond))
      const p50 = median(runs.map((run) => run.result.p50Ms))
      const p99 = median(runs.map((run) => run.result.p99Ms))
      const rss = Math.max(...runs.map((run) => run.rssMb))
      const errors = runs.reduce((sum, run) => sum + run.result.errors, 0)
      say(
        `| ${target.name} | ${c} | ${Math.round(rps)} | ${p50.toFixed(2)} | ${Number.isNaN(p99) ? '-' : p99.toFixed(2)} | ${target.pid ? rss.toFixed(0) : '-'} | ${errors} |`,
      )
    }
  }

  /** The median over rounds of a/b, each round's a and b measured side by side. */
  const ratio = (a: string, b: string, c: number, of: (result: LoadResult) => number): string => {
    const as = results.get(key(a, c))
    const bs = results.get(key(b, c))
    if (!as || !bs) return '-'
    return `${median(as.map((run, i) => of(run.result) / of((bs[i] as { result: LoadResult }).result))).toFixed(2)}×`
  }
  say('')
  say('| ratio (median of per-round ratios) | ' + connections.map((c) => `c=${c}`).join(' | ') + ' |')
  say('|---|' + connections.map(() => '---:|').join(''))
  const rows: [string, string, string, (result: LoadResult) => number][] = [
    ['req/s colorproxy / nginx', 'colorproxy', 'nginx', (r) => r.requestsPerSecond],
    ['req/s colorproxy / direct', 'colorproxy', 'direct', (r) => r.requestsPerSecond],
    ['req/s nginx / direct', 'nginx', 'direct', (r) => r.requestsPerSecond],
    ['p99 colorproxy / nginx', 'colorproxy', 'nginx', (r) => r.p99Ms],
    ['req/s access log on / off', 'colorproxy log', 'colorproxy', (r) => r.requestsPerSecond],
    ['req/s WORKERS=2 / WORKERS=1', 'colorproxy WORKERS=2', 'colorproxy', (r) => r.requestsPerSecond],
    ['req/s https h1 colorproxy / nginx', 'colorproxy https', 'nginx https', (r) => r.requestsPerSecond],
    ['req/s https h2 colorproxy / nginx', 'colorproxy h2', 'nginx h2', (r) => r.requestsPerSecond],
    ['req/s colorproxy https / http', 'colorproxy https', 'colorproxy', (r) => r.requestsPerSecond],
    ['req/s 50 sites / 1 site', 'colorproxy 50 sites', 'colorproxy 1 site', (r) => r.requestsPerSecond],
  ]
  for (const [label, a, b, of] of rows) {
    say(`| ${label} | ${connections.map((c) => ratio(a, b, c, of)).join(' | ')} |`)
  }
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
