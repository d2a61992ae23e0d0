// One process's colorproxy: the app, its traffic listener and (unless it is a cluster worker) the admin
// listener; start() resolves the bound ports, shutdown() runs the graceful stop (docs/configuration.md:
// SHUTDOWN_DELAY, then SHUTDOWN_TIMEOUT) and resolves when done.
import { readFileSync } from 'node:fs'
import type { AddressInfo, Server as NetServer } from 'node:net'
import type { Registry } from 'prom-client'
import { type DrainResult, gracefulStop } from '../lib/drain.js'
import { createAdminServer } from './observe/admin.js'
import { type App, createApp, type Dependencies } from './app.js'
import { type Config, listFiles } from './config/load.js'
import { guardConnections } from './listen/client-connections.js'
import { createSecureTrafficServer, createTrafficServer, listen } from './listen/http1.js'
import { createTlsListener } from './listen/tls-listener.js'
import { logListening } from './observe/summary.js'

export type { Dependencies }

export interface ServiceOptions extends Dependencies {
  /**
   * One of WORKERS cluster workers: no admin listener (the primary has it) and no startup summary (the
   * primary says it once).
   */
  worker?: boolean
}

export interface Service {
  /** The bound ports; httpsPort is 0 without a TLS listener. */
  start(): Promise<{ port: number; adminPort: number; httpsPort: number }>
  /**
   * readyz → 503; keep serving for delayMs; stop accepting and drain for up to config.shutdown.timeoutMs.
   * A second call (a second signal) skips whatever delay is left.
   */
  shutdown(options: { delayMs: number }): Promise<DrainResult>
  /** This process's stats and ejected colors, for a cluster primary to merge. */
  statsState(): ReturnType<App['statsState']>
  /** This process's metrics, for a cluster primary to sum. */
  readonly registry: Registry
}

export function createService(config: Config, options: ServiceOptions): Service {
  const { logger } = options
  const app = createApp(config, options)
  const { server: traffic, drainer } = createTrafficServer(config, app)
  const tls = config.tls && createTlsListener(config.tls, logger, { readFile: readText, list: listFiles })
  const secure = tls && config.tls && createSecureTrafficServer(config, app, tls.server)
  // In front of every listener the servers have set up: PROXY headers and MAX_CONNECTIONS_PER_CLIENT.
  const rules = {
    proxyProtocol: config.clients.proxyProtocol ? config.trustedProxies : undefined,
    maxPerClient: config.clients.maxPerClient,
    headerTimeoutMs: config.timeouts.clientMs,
    refused: app.connectionRefused,
  }
  guardConnections(traffic, rules)
  if (secure) guardConnections(secure.server as unknown as NetServer, rules)
  let ready = true
  // A worker never listens on the admin port: the primary owns it.
  const admin = options.worker
    ? undefined
    : createAdminServer(config, {
        ready: () => ready,
        metrics: app.metricsText,
        stats: app.stats,
        canaryAborted: app.canaryAborted,
      })

  return {
    registry: app.registry,
    statsState: app.statsState,

    async start() {
      const open = opener(() => tls?.close())
      const port = await open(traffic, config.listen.port, config.listen.host)
      const httpsPort = secure && config.tls ? await open(secure.server, config.tls.port, config.tls.host) : 0
      if (!admin) return { port, adminPort: 0, httpsPort }
      const adminPort = await open(admin, config.admin.port, config.admin.host)
      logListening(logger, config, { port, adminPort, httpsPort })
      return { port, adminPort, httpsPort }
    },

    shutdown: gracefulStop(
      { logger, timeoutMs: config.shutdown.timeoutMs },
      () => {
        ready = false
      },
      async () => {
        const inFlight = drainer.inFlight + (secure?.drainer.inFlight ?? 0)
        logger.info({ in_flight: inFlight }, 'draining: no new connections')
        tls?.close()
        const [plain, encrypted] = await Promise.all([
          drainer.drain(config.shutdown.timeoutMs),
          secure?.drainer.drain(config.shutdown.timeoutMs),
        ])
        const result = { forced: plain.forced + (encrypted?.forced ?? 0) }
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

const readText = (path: string) => readFileSync(path, 'utf8')

type Listening = Parameters<typeof listen>[0] & { close(): unknown; address(): unknown }

/** Listens on each server in turn; when one cannot, those already open close and `undo` runs. */
function opener(undo: () => void) {
  const opened: Listening[] = []
  return async (server: Listening, port: number, host: string): Promise<number> => {
    await listen(server, port, host).catch((error) => {
      for (const other of opened) other.close()
      undo()
      throw error
    })
    opened.push(server)
    return (server.address() as AddressInfo).port
  }
}
