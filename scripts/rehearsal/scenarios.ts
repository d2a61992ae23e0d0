// The rollout scenarios: each starts real backends and proxies, drives load through a Front while a
// Service updates, and reports requests, failures, retries and the split seen after each step.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Front } from './front.js'
import { Load, type LoadReport } from './load.js'
import { startRedis } from './redis.js'
import { Replica } from './replica.js'
import { type Monitor, type Order, Service, type Timeline } from './service.js'

export interface Step {
  name: string
  /** Shares (percent) by color the weights promise after this step. */
  expected: Record<string, number>
  /** Shares seen over `answersPerStep` answers once the step was complete. */
  observed: Record<string, number>
  /** False when the update was rolled back. */
  applied: boolean
  /** Requests sent and failed from the step's start until its split was measured. */
  requests: number
  failures: number
  /** The share of the step's requests that may fail (progressive-bad: green's answers before its abort). */
  failureBudgetPercent: number
}

export interface ScenarioReport extends LoadReport {
  scenario: string
  steps: Step[]
}

/** What went wrong beyond each step's failure budget (none: the scenario held). */
export function overBudget(report: ScenarioReport): string[] {
  const problems: string[] = []
  let budgeted = 0
  for (const step of report.steps) {
    const allowed = Math.floor((step.requests * step.failureBudgetPercent) / 100)
    if (step.failureBudgetPercent > 0) budgeted += Math.min(step.failures, allowed)
    if (step.failures > allowed)
      problems.push(
        `${step.name}: ${step.failures} of ${step.requests} failed (budget ${step.failureBudgetPercent}%)`,
      )
  }
  if (report.failures > budgeted && problems.length === 0)
    problems.push(`${report.failures - budgeted} requests failed outside any step's budget`)
  return problems
}

export interface ScenarioOptions {
  timeline: Timeline
  /** Answers counted after each step to measure the split. */
  answersPerStep: number
  clients: number
}

const PROXY_ENV = { SHUTDOWN_DELAY: '200ms', SHUTDOWN_TIMEOUT: '5s' }
// Generous: on a loaded 2-core machine a replica may take a while to start; a bad one exits at once anyway.
const READY_WITHIN_MS = 15_000

/** Starts a load, runs the steps, and always tears everything down. */
async function rehearse(
  scenario: string,
  options: ScenarioOptions,
  setup: (front: Front, cleanup: (fn: () => Promise<unknown>) => void) => Promise<void>,
  steps: {
    name: string
    expected: Record<string, number>
    run: () => Promise<boolean>
    failureBudgetPercent?: number
  }[],
  more: {
    /** The replicas' TLS listener is what the front routes to, and the clients trust this CA. */
    tls?: { ca: string }
    /** One load per site, on these paths; shares are then reported as `<site> <color>`. */
    sites?: string[]
  } = {},
): Promise<ScenarioReport> {
  const cleanups: (() => Promise<unknown>)[] = []
  const { tls, sites } = more
  const front = new Front(tls !== undefined)
  await front.listen()
  cleanups.push(() => front.close())
  try {
    await setup(front, (fn) => cleanups.push(fn))
    const loads = (sites ?? ['']).map((site) => ({
      site,
      load: new Load({ url: `${front.url}${site}`, clients: options.clients, slowEvery: 10, ca: tls?.ca }),
    }))
    for (const { load } of loads) load.start()
    const report: ScenarioReport = { scenario, steps: [], requests: 0, failures: 0, retries: 0, failed: [] }
    const total = (key: 'requests' | 'failures' | 'retries') =>
      loads.reduce((sum, { load }) => sum + load.report[key], 0)
    for (const step of steps) {
      const [requestsBefore, failuresBefore] = [total('requests'), total('failures')]
      const applied = await step.run()
      for (const { load } of loads) load.phase()
      await Promise.all(loads.map(({ load }) => load.answers(options.answersPerStep)))
      const observed = Object.fromEntries(
        loads.flatMap(({ site, load }) =>
          [...load.phase()].map(([color, share]) => [sites ? `${site.slice(1)} ${color}` : color, share]),
        ),
      )
      report.steps.push({
        name: step.name,
        expected: step.expected,
        observed,
        applied,
        requests: total('requests') - requestsBefore,
        failures: total('failures') - failuresBefore,
        failureBudgetPercent: step.failureBudgetPercent ?? 0,
      })
      const split = Object.entries(observed).map(([color, share]) => `${color} ${share}%`)
      options.timeline(
        `after "${step.name}": ${split.join(', ')}; so far ${total('requests')} requests, ${total('failures')} failed, ${total('retries')} retried`,
      )
    }
    for (const { load } of loads) {
      const { requests, failures, retries, failed } = await load.stop()
      report.requests += requests
      report.failures += failures
      report.retries += retries
      report.failed.push(...failed)
    }
    return report
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup()
  }
}

async function backend(
  name: string,
  env: Record<string, string>,
  cleanup: (fn: () => Promise<unknown>) => void,
) {
  const replica = await Replica.start(name, 'myapp', { HOSTNAME: name, ...env }, READY_WITHIN_MS)
  cleanup(() => replica.stop())
  return `http://127.0.0.1:${replica.port}`
}

/** sillyproxy's walkthrough with 3 proxy replicas: blue → 4:1 canary → all green → rollback. */
export function canaryScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  let proxy: Service
  let blue = ''
  let green = ''
  const update = (env: Record<string, string>, order: Order) => () =>
    proxy.update({ ...PROXY_ENV, ...env }, order)
  return rehearse(
    'blue → 4:1 canary → all green → rollback (3 proxy replicas)',
    options,
    async (front, cleanup) => {
      blue = await backend('myapp-v1', {}, cleanup)
      green = await backend('myapp-v2', { V2: '1' }, cleanup)
      proxy = new Service('proxy', 'colorproxy', front, {
        readyWithinMs: READY_WITHIN_MS,
        timeline: options.timeline,
      })
      cleanup(() => proxy.remove())
      await proxy.create({ ...PROXY_ENV, BLUE: blue }, 3)
    },
    [
      { name: 'blue', expected: { blue: 100 }, run: async () => true },
      {
        name: 'canary 4:1 (start-first)',
        expected: { blue: 80, green: 20 },
        run: () =>
          update({ BLUE: blue, GREEN: `${green}/`, BLUE_WEIGHT: '4', GREEN_WEIGHT: '1' }, 'start-first')(),
      },
      {
        name: 'all green (stop-first)',
        expected: { green: 100 },
        run: () => update({ GREEN: `${green}/` }, 'stop-first')(),
      },
      {
        name: 'rollback to blue (start-first)',
        expected: { blue: 100 },
        run: () => update({ BLUE: blue }, 'start-first')(),
      },
    ],
  )
}

/** A bad value in the update: the first new replica exits 78, and the update rolls itself back. */
export function badEnvScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  let proxy: Service
  let env: Record<string, string> = {}
  return rehearse(
    'a bad environment is rolled back (3 proxy replicas)',
    options,
    async (front, cleanup) => {
      const blue = await backend('myapp-v1', {}, cleanup)
      const green = await backend('myapp-v2', { V2: '1' }, cleanup)
      proxy = new Service('proxy', 'colorproxy', front, {
        readyWithinMs: READY_WITHIN_MS,
        timeline: options.timeline,
      })
      cleanup(() => proxy.remove())
      env = { ...PROXY_ENV, BLUE: blue, GREEN: `${green}/`, BLUE_WEIGHT: '4', GREEN_WEIGHT: '1' }
      await proxy.create(env, 3)
    },
    [
      { name: 'canary 4:1', expected: { blue: 80, green: 20 }, run: async () => true },
      {
        name: '--env-add GREEN_WEIGHT=abc (start-first)',
        expected: { blue: 80, green: 20 },
        run: () => proxy.update({ ...env, GREEN_WEIGHT: 'abc' }, 'start-first'),
      },
      {
        name: '--env-add GREEN_WEIGHT=abc (stop-first)',
        expected: { blue: 80, green: 20 },
        run: () => proxy.update({ ...env, GREEN_WEIGHT: 'abc' }, 'stop-first'),
      },
    ],
  )
}

/** The backend's own rolling update, behind 2 proxy replicas: myapp-v1's 3 replicas replaced twice. */
export function backendScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  let app: Service
  return rehearse(
    'a backend (myapp) rolling update behind the proxy',
    options,
    async (front, cleanup) => {
      // The backend's own routing mesh (its VIP), which the proxy's BLUE points at.
      const vip = new Front()
      await vip.listen()
      cleanup(() => vip.close())
      app = new Service('myapp-v1', 'myapp', vip, {
        readyWithinMs: READY_WITHIN_MS,
        timeline: options.timeline,
      })
      cleanup(() => app.remove())
      await app.create({ HOSTNAME: 'myapp-v1-a' }, 3)
      const proxy = new Service('proxy', 'colorproxy', front, {
        readyWithinMs: READY_WITHIN_MS,
        timeline: options.timeline,
      })
      cleanup(() => proxy.remove())
      await proxy.create({ ...PROXY_ENV, BLUE: vip.url }, 2)
    },
    [
      { name: 'blue', expected: { blue: 100 }, run: async () => true },
      {
        name: 'myapp-v1 update (start-first)',
        expected: { blue: 100 },
        run: () => app.update({ HOSTNAME: 'myapp-v1-b' }, 'start-first'),
      },
      {
        name: 'myapp-v1 update (stop-first)',
        expected: { blue: 100 },
        run: () => app.update({ HOSTNAME: 'myapp-v1-c' }, 'stop-first'),
      },
    ],
  )
}

/** The canary over HTTPS: clients speak TLS to the proxies' HTTPS_PORT; a drain loses nothing there either. */
export function httpsScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  let proxy: Service
  let blue = ''
  let green = ''
  const site = localCertificate()
  const env = { ...PROXY_ENV, TLS_CERT: site.cert, TLS_KEY: site.key }
  const update = (more: Record<string, string>, order: Order) => () =>
    proxy.update({ ...env, ...more }, order)
  return rehearse(
    'blue → 4:1 canary → all green over HTTPS (3 proxy replicas)',
    options,
    async (front, cleanup) => {
      blue = await backend('myapp-v1', {}, cleanup)
      green = await backend('myapp-v2', { V2: '1' }, cleanup)
      proxy = new Service('proxy', 'colorproxy', front, {
        readyWithinMs: READY_WITHIN_MS,
        timeline: options.timeline,
      })
      cleanup(() => proxy.remove())
      await proxy.create({ ...env, BLUE: blue }, 3)
    },
    [
      { name: 'blue', expected: { blue: 100 }, run: async () => true },
      {
        name: 'canary 4:1 (start-first)',
        expected: { blue: 80, green: 20 },
        run: () => update({ BLUE: blue, GREEN: green, BLUE_WEIGHT: '4', GREEN_WEIGHT: '1' }, 'start-first')(),
      },
      {
        name: 'all green (stop-first)',
        expected: { green: 100 },
        run: () => update({ GREEN: green }, 'stop-first')(),
      },
    ],
    { tls: { ca: site.cert } },
  )
}

/**
 * SITES: two sites behind the same 3 replicas (shop on /shop, api on /api, both STRIP_PATH); api goes
 * blue → 4:1 canary → all green while shop, untouched, must stay blue throughout.
 */
export function sitesScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  let proxy: Service
  let env: Record<string, string> = {}
  let api = { blue: '', green: '' }
  const update = (more: Record<string, string>, order: Order) => () =>
    proxy.update({ ...env, ...more }, order)
  return rehearse(
    'two sites: a canary on api, shop untouched (3 proxy replicas)',
    options,
    async (front, cleanup) => {
      const shop = await backend('shop-v1', {}, cleanup)
      const shopNext = await backend('shop-v2', { V2: '1' }, cleanup)
      api = {
        blue: await backend('api-v1', {}, cleanup),
        green: await backend('api-v2', { V2: '1' }, cleanup),
      }
      proxy = new Service('proxy', 'colorproxy', front, {
        readyWithinMs: READY_WITHIN_MS,
        timeline: options.timeline,
      })
      cleanup(() => proxy.remove())
      // Shop has a green waiting at weight 0: only an update could move its traffic.
      env = {
        ...PROXY_ENV,
        SITES: 'shop,api',
        ...{ SHOP_PATHS: '/shop', SHOP_STRIP_PATH: 'true', SHOP_BLUE: shop, SHOP_GREEN: shopNext },
        ...{ SHOP_GREEN_WEIGHT: '0', API_PATHS: '/api', API_STRIP_PATH: 'true', API_BLUE: api.blue },
      }
      await proxy.create(env, 3)
    },
    [
      { name: 'blue', expected: { 'shop blue': 100, 'api blue': 100 }, run: async () => true },
      {
        name: 'api canary 4:1 (start-first)',
        expected: { 'shop blue': 100, 'api blue': 80, 'api green': 20 },
        run: () =>
          update({ API_GREEN: api.green, API_BLUE_WEIGHT: '4', API_GREEN_WEIGHT: '1' }, 'start-first')(),
      },
      {
        name: 'api all green (stop-first)',
        expected: { 'shop blue': 100, 'api green': 100 },
        run: () => {
          const { API_BLUE: _blue, ...rest } = env
          return proxy.update({ ...rest, API_GREEN: api.green }, 'stop-first')
        },
      },
    ],
    { sites: ['/shop', '/api'] },
  )
}

/** A self-signed certificate for localhost, made by openssl for this rehearsal only. */
function localCertificate(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rehearsal-tls-'))
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
      ].concat(
        ['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'],
        ['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      ),
      { stdio: 'ignore' },
    )
    return {
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** CANARY_STEPS and CANARY_INTERVAL for the progressive scenarios, and Swarm's monitor that covers them. */
const STEPS = '5,25,50,100'
const INTERVAL_MS = 2000
const MONITOR: Monitor = {
  parallelism: 0,
  // The steps, and room for a few held intervals.
  monitorMs: STEPS.split(',').length * INTERVAL_MS + 3 * INTERVAL_MS,
  healthEveryMs: 250,
  retries: 2,
}

/**
 * A progressive rollout, the recipe in examples/swarm/progressive.sh: one update adds green as the canary
 * on every replica at once (`--update-parallelism 0`), each replica steps it up and judges it, and Swarm
 * watches /healthz for the steps' length. `failPercent`: green answers that share with a 500. `fleet`: the
 * replicas share a redis-server (FLEET_STORE) and judge one canary on their summed answers.
 */
function progressive(name: string, failPercent: number, fleet = false) {
  return (given: ScenarioOptions): Promise<ScenarioReport> => {
    // Alone, more clients than the other scenarios: 5% of the traffic must give each replica's canary
    // enough answers in a 2 s interval to be judged. A fleet sums three replicas' answers: the usual do.
    const options = fleet ? given : { ...given, clients: Math.max(given.clients, 24) }
    let proxy: Service
    let env: Record<string, string> = {}
    let green = ''
    return rehearse(
      name,
      options,
      async (front, cleanup) => {
        const blue = await backend('myapp-v1', {}, cleanup)
        green = await backend('myapp-v2', { V2: '1', FAIL_PERCENT: String(failPercent) }, cleanup)
        // Started before the proxies, so it stops after them (cleanups run last first).
        const redis = fleet ? await store(cleanup) : ''
        proxy = new Service('proxy', 'colorproxy', front, {
          readyWithinMs: READY_WITHIN_MS,
          timeline: options.timeline,
        })
        cleanup(() => proxy.remove())
        env = { ...PROXY_ENV, BLUE: blue, CANARY_ABORT_HEALTH: 'true', ...(fleet && { FLEET_STORE: redis }) }
        await proxy.create(env, 3)
      },
      [
        { name: 'blue', expected: { blue: 100 }, run: async () => true },
        {
          name: `canary green ${STEPS} every ${INTERVAL_MS / 1000} s (parallelism 0, monitored)`,
          expected: failPercent === 0 ? { green: 100 } : { blue: 100 },
          // Green's failed answers before its abort, never more than this share of the step's traffic.
          failureBudgetPercent: failPercent === 0 ? 0 : 2,
          run: () =>
            proxy.update(
              {
                ...env,
                GREEN: green,
                CANARY: 'green',
                CANARY_STEPS: STEPS,
                CANARY_INTERVAL: `${INTERVAL_MS}ms`,
              },
              'start-first',
              MONITOR,
            ),
        },
      ],
    )
  }
}

/** A healthy green: stepped up to 100% and promoted on every replica, the update complete, nothing lost. */
export const progressiveScenario = progressive('progressive rollout of a healthy green (3 proxy replicas)', 0)

/**
 * A green that fails 10% of its answers: aborted at the first step, /healthz fails, and Swarm's monitor
 * rolls the service back; the only failures are green's answers before the abort.
 */
export const progressiveBadScenario = progressive(
  'progressive rollout of a green failing 10% (3 proxy replicas)',
  10,
)

/** A redis-server for FLEET_STORE, stopped at the end: its URL. */
async function store(cleanup: (fn: () => Promise<unknown>) => void): Promise<string> {
  const redis = await startRedis()
  cleanup(() => redis.stop())
  return redis.url
}

/** The same healthy green, with the replicas judging it as one fleet (FLEET_STORE, a real redis-server). */
export const progressiveFleetScenario = progressive(
  'progressive rollout of a healthy green, one fleet (3 proxy replicas, FLEET_STORE)',
  0,
  true,
)

/** The same failing green, judged by the fleet: every replica aborts at the same judgement. */
export const progressiveBadFleetScenario = progressive(
  'progressive rollout of a green failing 10%, one fleet (3 proxy replicas, FLEET_STORE)',
  10,
  true,
)

export const SCENARIOS = {
  canary: canaryScenario,
  'bad-env': badEnvScenario,
  backend: backendScenario,
  https: httpsScenario,
  sites: sitesScenario,
  progressive: progressiveScenario,
  'progressive-bad': progressiveBadScenario,
  'progressive-fleet': progressiveFleetScenario,
  'progressive-bad-fleet': progressiveBadFleetScenario,
}
