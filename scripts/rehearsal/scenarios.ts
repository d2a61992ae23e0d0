// The rollout scenarios: each starts real backends and proxies, drives load through a Front while a
// Service updates, and reports requests, failures, retries and the split seen after each step.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Front } from './front.js'
import { Load, type LoadReport } from './load.js'
import { Replica } from './replica.js'
import { type Order, Service, type Timeline } from './service.js'

export interface Step {
  name: string
  /** Shares (percent) by color the weights promise after this step. */
  expected: Record<string, number>
  /** Shares seen over `answersPerStep` answers once the step was complete. */
  observed: Record<string, number>
  /** False when the update was rolled back. */
  applied: boolean
}

export interface ScenarioReport extends LoadReport {
  scenario: string
  steps: Step[]
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
  steps: { name: string; expected: Record<string, number>; run: () => Promise<boolean> }[],
  /** The replicas' TLS listener is what the front routes to, and the clients trust this CA. */
  tls?: { ca: string },
): Promise<ScenarioReport> {
  const cleanups: (() => Promise<unknown>)[] = []
  const front = new Front(tls !== undefined)
  await front.listen()
  cleanups.push(() => front.close())
  try {
    await setup(front, (fn) => cleanups.push(fn))
    const load = new Load({ url: front.url, clients: options.clients, slowEvery: 10, ca: tls?.ca })
    load.start()
    const report: ScenarioReport = { scenario, steps: [], requests: 0, failures: 0, retries: 0, failed: [] }
    for (const step of steps) {
      const applied = await step.run()
      load.phase()
      await load.answers(options.answersPerStep)
      const observed = Object.fromEntries(load.phase())
      report.steps.push({ name: step.name, expected: step.expected, observed, applied })
      const split = Object.entries(observed).map(([color, share]) => `${color} ${share}%`)
      options.timeline(
        `after "${step.name}": ${split.join(', ')}; so far ${load.report.requests} requests, ${load.report.failures} failed, ${load.report.retries} retried`,
      )
    }
    Object.assign(report, await load.stop())
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
    { ca: site.cert },
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

export const SCENARIOS = {
  canary: canaryScenario,
  'bad-env': badEnvScenario,
  backend: backendScenario,
  https: httpsScenario,
}
