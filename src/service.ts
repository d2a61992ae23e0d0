// One process's colorproxy: the app, its traffic listener and (unless it is a cluster worker) the admin
// listener; start() resolves the bound ports, shutdown() runs the SPEC.md sequence and resolves when done.
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { type DrainResult, gracefulStop } from '../lib/drain.js'
import { createAdminServer } from './admin.js'
import { createApp, type Dependencies } from './app.js'
import type { Config } from './config.js'
import { createTrafficServer, listen } from './server.js'
import type { StatsState } from './stats.js'
import { logListening } from './summary.js'

export type { Dependencies }

export interface ServiceOptions extends Dependencies {
  /**
   * One of WORKERS cluster workers: no admin listener (the primary has it) and no startup summary (the
   * primary says it once).
   */
  worker?: boolean
}

export interface Service {
  start(): Promise<{ port: number; adminPort: number }>
  /**
   * readyz → 503; keep serving for delayMs; stop accepting and drain for up to config.shutdown.timeoutMs.
   * A second call (a second signal) skips whatever delay is left.
   */
  shutdown(options: { delayMs: number }): Promise<DrainResult>
  /** This process's stats and ejected colors, for a cluster primary to merge. */
  statsState(): { state: StatsState; ejected: string[] }
  /** This process's metrics, for a cluster primary to sum. */
  readonly registry: Registry
}

export function createService(config: Config, options: ServiceOptions): Service {
  const { logger } = options
  const app = createApp(config, options)
  const { server: traffic, drainer } = createTrafficServer(config, app)
  let ready = true
  // A worker never listens on the admin port: the primary owns it.
  const admin = options.worker
    ? undefined
    : createAdminServer(config, { ready: () => ready, metrics: app.metricsText, stats: app.stats })

  return {
    registry: app.registry,
    statsState: app.statsState,

    async start() {
      await listen(traffic, config.listen.port, config.listen.host)
      const port = (traffic.address() as AddressInfo).port
      if (!admin) return { port, adminPort: 0 }
      await listen(admin, config.admin.port, config.admin.host).catch((error) => {
        traffic.close()
        throw error
      })
      const adminPort = (admin.address() as AddressInfo).port
      logListening(logger, config, port, adminPort)
      return { port, adminPort }
    },

    shutdown: gracefulStop(
      { logger, timeoutMs: config.shutdown.timeoutMs },
      () => {
        ready = false
      },
      async () => {
        logger.info({ in_flight: drainer.inFlight }, 'draining: no new connections')
        const result = await drainer.drain(config.shutdown.timeoutMs)
        if (result.forced > 0) logger.warn({ forced: result.forced }, 'drain timed out: connections closed')
        app.close()
        admin?.close()
        admin?.closeAllConnections()
        logger.info('stopped')
        return result
      },
    ),
  }
}
