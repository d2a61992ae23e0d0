// WORKERS > 1: a node:cluster primary runs that many workers, which share the traffic port and each
// forward requests. On a fixed port each worker binds its own sockets with SO_REUSEPORT and the kernel
// spreads new connections over them (the primary's round robin made it accept and hand on every one); on
// port 0 they share the primary's. The primary serves no traffic; it owns the admin listener, so readiness covers every
// worker, /metrics sums them (prom-client's AggregatorRegistry) and the stats page merges them, and it
// runs the one shutdown sequence for all. A worker that dies is replaced.
import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry, type Registry } from 'prom-client'
import { createAdminServer } from './observe/admin.js'
import type { Config } from './config/load.js'
import { gracefulStop } from '../lib/drain.js'
import type { Logger } from '../lib/logger.js'
import { listen } from './listen/sockets.js'
import type { CanaryView } from './canary/controller.js'
import type { FleetView } from './fleet/fleet.js'
import { serves } from './route/site-match.js'
import { Stats, type StatsState, sitesSnapshot } from './observe/stats.js'
import { logListening } from './observe/summary.js'

/** Messages between the primary and its workers. */
export const MESSAGE = {
  /** worker → primary: its traffic server listens, on `port`. */
  listening: 'colorproxy:listening',
  /** primary → worker: stop accepting, drain, exit 0. */
  shutdown: 'colorproxy:shutdown',
  /** primary → worker, and the answer with the same `id`: its stats state. */
  stats: 'colorproxy:stats',
} as const

/** How long the primary waits for a worker's stats before the page says it could not get them. */
const STATS_TIMEOUT_MS = 2000

export interface Primary {
  /** Forks the workers; resolves once every one listens and the admin listener is up. */
  start(): Promise<{ port: number; adminPort: number; httpsPort: number }>
  /** readyz → 503, the delay, then every worker drains and exits. A second call skips the delay. */
  shutdown(options: { delayMs: number }): Promise<void>
}

export function createPrimary(
  config: Config,
  deps: { logger: Logger; workers: number; now?: () => number },
): Primary {
  const { logger } = deps
  const now = deps.now ?? Date.now
  const pool = new WorkerPool(logger)
  const aggregator = new AggregatorRegistry()
  let statsRequests = 0
  const stats = async () => {
    const id = ++statsRequests
    const answers = await Promise.all([...pool.listening].map((worker) => askStats(worker, id)))
    // Each worker answers its sites in config order: merged site by site.
    const snapshot = sitesSnapshot(
      config.sites.map((site, index) =>
        mergedSite(
          site,
          answers.map((answer) => answer.sites[index] as SiteState),
          now,
          config.sites,
        ),
      ),
    )
    // FLEET_STORE: each worker is a member and reads the same fleet; the first one's view is shown.
    const fleet = answers.find((answer) => answer.fleet)?.fleet
    return fleet ? { ...snapshot, fleet } : snapshot
  }
  const admin = createAdminServer(config, {
    ready: () => !pool.stopping && pool.listening.size === deps.workers,
    metrics: async () => ({ type: aggregator.contentType, body: await aggregator.clusterMetrics() }),
    stats,
    fleet: config.fleet && (async () => (await stats()).fleet),
    canaryAborted: async () => (await stats()).sites.some((site) => site.canary?.state === 'aborted'),
  })

  return {
    async start() {
      const ports = await Promise.all(Array.from({ length: deps.workers }, () => pool.fork()))
      pool.started = true
      const { port, httpsPort } = ports[0] as Ports
      await listen(admin, config.admin.port, config.admin.host)
      const adminPort = (admin.address() as { port: number }).port
      logger.info({ workers: deps.workers }, `${deps.workers} workers share port ${port}`)
      logListening(logger, config, { port, adminPort, httpsPort })
      return { port, adminPort, httpsPort }
    },

    shutdown: gracefulStop(
      { logger, timeoutMs: config.shutdown.timeoutMs },
      () => {
        pool.stopping = true
      },
      async () => {
        await pool.stopAll()
        admin.close()
        admin.closeAllConnections()
        logger.info('stopped')
      },
    ),
  }
}

/** What a worker listens on (httpsPort 0: no TLS listener). */
interface Ports {
  port: number
  httpsPort: number
}

/** The workers: forked, replaced when one dies after start, and stopped together. */
class WorkerPool {
  readonly listening = new Set<Worker>()
  /** Every worker listened once: from now on, one that dies is replaced. */
  started = false
  stopping = false

  constructor(private readonly logger: Logger) {}

  /** Resolves with the ports once the new worker listens; rejects if it dies before start. */
  fork(): Promise<Ports> {
    const worker = cluster.fork()
    return new Promise((resolve, reject) => {
      worker.on('message', (message: { type?: string } & Ports) => {
        if (message.type !== MESSAGE.listening) return
        this.listening.add(worker)
        this.logger.debug({ worker: worker.id, pid: worker.process.pid }, 'worker listening')
        resolve({ port: message.port, httpsPort: message.httpsPort })
      })
      worker.once('exit', (code, signal) => {
        this.listening.delete(worker)
        if (this.stopping) return
        if (!this.started) {
          reject(new Error(`a worker exited (${code ?? signal}) before it listened`))
          return
        }
        this.logger.error({ worker: worker.id, code, signal }, 'worker died: starting another')
        // Its promise only ever resolves: after start, a worker that exits early is replaced in turn.
        void this.fork()
      })
    })
  }

  /** Every worker drains and exits. */
  async stopAll(): Promise<void> {
    const workers = Object.values(cluster.workers ?? {}) as Worker[]
    this.logger.info({ workers: workers.length }, 'draining: every worker stops accepting')
    await Promise.all(
      workers.map((worker) => {
        const exited = new Promise((resolve) => worker.once('exit', resolve))
        if (worker.isConnected()) worker.send({ type: MESSAGE.shutdown })
        return exited
      }),
    )
  }
}

/** One site as every worker sees it, merged for the primary's stats page. */
function mergedSite(
  site: Config['sites'][number],
  mine: SiteState[],
  now: () => number,
  sites: Config['sites'],
) {
  const merged = Stats.merge(
    site.colors,
    now,
    mine.map((one) => one.state),
  )
  const ejected = [...new Set(mine.flatMap((one) => one.ejected))]
  // Every worker checks every address itself: one that any worker has taken out is shown.
  const unhealthy: Record<string, string[]> = {}
  for (const one of mine)
    for (const [color, addresses] of Object.entries(one.unhealthy))
      unhealthy[color] = [...new Set([...(unhealthy[color] ?? []), ...addresses])]
  // Each worker judges its own canary: shown is the first worker's, or one that has aborted.
  const canaries = mine.flatMap((one) => (one.canary ? [one.canary] : []))
  const canary = canaries.find((one) => one.state === 'aborted') ?? canaries[0]
  return {
    name: site.name,
    serves: serves(site, sites),
    snapshot: merged.snapshot(ejected, unhealthy),
    canary,
  }
}

/** One site's counts in one worker, the colors that worker has ejected, and its canary. */
type SiteState = {
  state: StatsState
  ejected: string[]
  unhealthy: Record<string, string[]>
  canary?: CanaryView
}

/** A worker's answer: its sites, and the fleet as it last read it (FLEET_STORE). */
type WorkerStats = { sites: SiteState[]; fleet?: FleetView }

function askStats(worker: Worker, id: number): Promise<WorkerStats> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.off('message', onMessage)
      reject(new Error(`worker ${worker.id} did not answer`))
    }, STATS_TIMEOUT_MS)
    const onMessage = (message: { type?: string; id?: number } & Partial<WorkerStats>) => {
      if (message.type !== MESSAGE.stats || message.id !== id) return
      clearTimeout(timer)
      worker.off('message', onMessage)
      resolve({ sites: message.sites as SiteState[], fleet: message.fleet })
    }
    worker.on('message', onMessage)
    worker.send({ type: MESSAGE.stats, id })
  })
}

/**
 * A worker's side: which registry the primary's /metrics sums, and the answer to each message. Returns
 * what to send back, if anything.
 */
export function workerSide(proxy: {
  registry: Registry
  statsState(): SiteState[]
  fleetView(): FleetView | undefined
}): (message: { type?: string; id?: number }) => object | undefined {
  AggregatorRegistry.setRegistries([proxy.registry])
  // Constructing one is what makes prom-client answer the primary's metrics requests in a worker.
  new AggregatorRegistry()
  return (message) => {
    if (message.type === MESSAGE.stats)
      return { type: MESSAGE.stats, id: message.id, sites: proxy.statsState(), fleet: proxy.fleetView() }
    return undefined
  }
}
