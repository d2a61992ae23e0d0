// One process's colorproxy: the app, its traffic listener and (unless it is a cluster worker) the admin
// listener; start() resolves the bound ports, shutdown() runs the graceful stop (docs/configuration.md:
// SHUTDOWN_DELAY, then SHUTDOWN_TIMEOUT) and resolves when done.
import { readFileSync } from 'node:fs'
import type { AddressInfo, Server as NetServer } from 'node:net'
import { hostname } from 'node:os'
import type { Registry } from 'prom-client'
import { type DrainResult, gracefulStop } from '../lib/drain.js'
import type { Logger } from '../lib/logger.js'
import { createAdminServer } from './observe/admin.js'
import { type Acme, createAcme } from './acme/acme.js'
import { type App, createApp, type Dependencies } from './app.js'
import { type Config, listFiles } from './config/load.js'
import { canaryKey } from './fleet/canary-sync.js'
import { type Fleet, type FleetView, startFleet } from './fleet/fleet.js'
import { guardConnections } from './listen/client-connections.js'
import { createSecureTrafficServer, createTrafficServer } from './listen/http1.js'
import { ACCEPTORS, listen } from './listen/sockets.js'
import { createTlsListener, type TlsListener } from './listen/tls-listener.js'
import { logListening } from './observe/summary.js'

export type { Dependencies }

export interface ServiceOptions extends Dependencies {
  /**
   * One of WORKERS cluster workers: no admin listener (the primary has it) and no startup summary (the
   * primary says it once).
   */
  worker?: boolean
  /** This member's host in the fleet (FLEET_STORE); the machine's host name by default. */
  host?: string
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
  /** FLEET_STORE: the fleet as this process last read it. */
  fleetView(): FleetView | undefined
  /** This process's metrics, for a cluster primary to sum. */
  readonly registry: Registry
}

export function createService(config: Config, options: ServiceOptions): Service {
  const { logger } = options
  const app = createApp(config, options)
  const acme =
    config.acme &&
    config.tls &&
    createAcme(config.acme, { logger, everyMs: config.tls.reloadEveryMs, now: options.now })
  const { traffic, drainer, tls, secure } = listeners(config, app, logger, acme)
  const fleet = config.fleet && fleetOf(config, app, options)
  let ready = true
  // A worker never listens on the admin port: the primary owns it.
  const admin = options.worker ? undefined : adminOf(config, app, () => ready, tls, fleet, options.now)
  if (tls) app.watchCertificates(() => tls.served())
  if (fleet) app.watchFleet(() => fleet.view())

  return {
    registry: app.registry,
    statsState: app.statsState,
    fleetView: () => fleet?.view(),

    async start() {
      // A replica started late takes the fleet's step before it takes a request (bounded: the store may be down).
      await fleet?.start()
      const open = opener(options.worker === true, () => {
        tls?.close()
        void fleet?.close()
      })
      const port = await open(traffic, config.listen.port, config.listen.host)
      const httpsPort = secure && config.tls ? await open(secure.server, config.tls.port, config.tls.host) : 0
      // ACME's orders start once the ports answer its challenges.
      if (acme && tls) acme.start((certificates) => tls.serveIssued(certificates))
      if (!admin) return { port, adminPort: 0, httpsPort }
      const adminPort = await open(admin, config.admin.port, config.admin.host, false)
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
        acme?.close()
        const left = fleet?.close()
        const [plain, encrypted] = await Promise.all([
          drainer.drain(config.shutdown.timeoutMs),
          secure?.drainer.drain(config.shutdown.timeoutMs),
        ])
        const result = { forced: plain.forced + (encrypted?.forced ?? 0) }
        if (result.forced > 0) logger.warn({ forced: result.forced }, 'drain timed out: connections closed')
        await left
        app.close()
        admin?.close()
        admin?.closeAllConnections()
        logger.info('stopped')
        return result
      },
    ),
  }
}

/** The traffic listener and, with TLS, the TLS one, each behind the client-connection rules. */
function listeners(config: Config, app: App, logger: Logger, acme: Acme | undefined) {
  const { server: traffic, drainer } = createTrafficServer(config, {
    ...app,
    httpChallenge: acme?.httpChallenge,
  })
  const io = { readFile: readText, list: listFiles }
  const tls = config.tls && createTlsListener(config.tls, logger, io, acme?.alpnChallenge)
  const secure = tls && config.tls && createSecureTrafficServer(config, app, tls.server, config.tls.http2)
  // In front of every listener the servers have set up: PROXY headers and MAX_CONNECTIONS_PER_CLIENT.
  const rules = {
    proxyProtocol: config.clients.proxyProtocol ? config.trustedProxies : undefined,
    maxPerClient: config.clients.maxPerClient,
    headerTimeoutMs: config.timeouts.clientMs,
    refused: app.connectionRefused,
  }
  guardConnections(traffic, rules)
  if (secure) guardConnections(secure.server as unknown as NetServer, rules)
  return { traffic, drainer, tls, secure }
}

/** The admin listener of a process that is not a cluster worker. */
function adminOf(
  config: Config,
  app: App,
  ready: () => boolean,
  tls: TlsListener | undefined,
  fleet: Fleet | undefined,
  now: (() => number) | undefined,
) {
  return createAdminServer(config, {
    ready,
    metrics: app.metricsText,
    stats: async () => ({ ...(await app.stats()), ...(fleet && { fleet: fleet.view() }) }),
    fleet: fleet && (async () => fleet.view()),
    canaryAborted: app.canaryAborted,
    certificates: tls && (() => tls.served()),
    now,
  })
}

/** FLEET_STORE: this process as a member, each site with its canary and its shared rate limit. */
function fleetOf(config: Config, app: App, options: ServiceOptions): Fleet | undefined {
  if (config.fleet === undefined) return undefined
  const sites = app.sites.map((site) => {
    const key = canaryKey(site.config)
    const shared = site.sharedRateLimit
    const rule = site.config.rateLimit
    return {
      name: site.name,
      canary: key !== undefined && site.rollout ? { key, rollout: site.rollout } : undefined,
      rateLimit: shared && rule && { rule, shared },
      traffic: () => site.stats.traffic(),
    }
  })
  return startFleet(config.fleet, sites, {
    logger: options.logger,
    now: options.now ?? Date.now,
    host: options.host ?? hostname(),
    pid: process.pid,
  })
}

const readText = (path: string) => readFileSync(path, 'utf8')

type Listening = Parameters<typeof listen>[0]

/**
 * Listens on each server in turn; when one cannot, those already open close and `undo` runs. A cluster
 * worker on a fixed port binds its own sockets (SO_REUSEPORT), so the kernel spreads new connections over
 * the workers; on port 0 each would get a port of its own, so they share the primary's socket then. A
 * traffic listener binds ACCEPTORS sockets wherever it binds its own.
 */
function opener(worker: boolean, undo: () => void) {
  const opened: Listening[] = []
  return async (server: Listening, port: number, host: string, traffic = true): Promise<number> => {
    const own = !worker || port !== 0
    const options = { reusePort: worker && own, acceptors: traffic && own ? ACCEPTORS : 1 }
    await listen(server, port, host, options).catch((error) => {
      for (const other of opened) other.close()
      undo()
      throw error
    })
    opened.push(server)
    return (server.address() as AddressInfo).port
  }
}
