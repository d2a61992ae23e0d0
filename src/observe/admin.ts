// The admin listener: health, readiness, config, metrics and the stats page. Never proxied. With
// STATS_USER/STATS_PASS every path but /healthz and /readyz asks for basic auth (orchestrators probe those).
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { http } from '../../lib/node-http.js'
import { type Certificate, secondsLeft } from '../config/certificates.js'
import type { Config, SiteConfig } from '../config/load.js'
import { sourceOf } from './metrics.js'
import type { CertificateLife, SitesSnapshot } from './stats.js'
import type { FleetView } from '../fleet/fleet.js'
import { renderLive, renderStatsPage } from './stats-page.js'
import { redactUrl } from '../config/redact.js'
import { shares } from '../route/weights.js'

export interface AdminState {
  /** False once shutdown has begun: /readyz answers 503 so the orchestrator stops routing here. */
  ready(): boolean
  /** CANARY_ABORT_HEALTH: a canary aborted, so /healthz fails and a Swarm update rolls back. */
  canaryAborted?(): boolean | Promise<boolean>
  metrics(): Promise<{ type: string; body: string }>
  /** A promise: with WORKERS > 1 the primary asks every worker. */
  stats(): Promise<SitesSnapshot>
  /** The certificates served now (this process's TLS listener), for /config and the stats page. */
  certificates?(): readonly Certificate[]
  /** The clock a certificate's remaining life is read on. */
  now?(): number
  /** FLEET_STORE: the fleet now, for /config (WORKERS > 1: as a worker last read it). */
  fleet?(): Promise<FleetView | undefined>
}

const OPEN_PATHS = new Set(['/healthz', '/readyz'])

/** What a wrong path on the admin port gets: where things are (the stats page is `/`, not `/stats`). */
export const ADMIN_ENDPOINTS =
  '/ (the stats page), /stats.json, /metrics, /config, /healthz (liveness), /readyz (readiness)'

export type AdminEndpoint = (req: IncomingMessage, res: ServerResponse) => void

export function createAdminServer(config: Config, state: AdminState): Server {
  const endpoints: Record<string, AdminEndpoint> = {
    // Liveness: the process runs; it does not depend on upstreams, so a dead backend never restarts us.
    '/healthz': (_req, res) => {
      const answer = (aborted: boolean) =>
        aborted ? text(res, 503, 'canary aborted\n') : text(res, 200, 'ok\n')
      const aborted = config.canaryAbortHealth && state.canaryAborted ? state.canaryAborted() : false
      // WORKERS > 1 asks the workers; one that does not answer is no reason to call the process dead.
      if (aborted instanceof Promise) aborted.then(answer, () => answer(false))
      else answer(aborted)
    },
    '/readyz': (_req, res) => (state.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'shutting down\n')),
    '/config': configEndpoint(config, state),
    '/metrics': (_req, res) => {
      state.metrics().then(
        ({ type, body }) => send(res, 200, type, body),
        (error: Error) => text(res, 500, `metrics failed: ${error.message}\n`),
      )
    },
    '/stats.json': (_req, res) => {
      withCertificates(state).then(
        (stats) => send(res, 200, 'application/json', `${JSON.stringify(stats)}\n`),
        (error: Error) => text(res, 500, `stats failed: ${error.message}\n`),
      )
    },
    '/': (req, res) => {
      const live = /[?&]part=live(&|$)/.test(String(req.url))
      withCertificates(state).then(
        (stats) =>
          send(res, 200, 'text/html; charset=utf-8', live ? renderLive(stats) : renderStatsPage(stats)),
        (error: Error) => text(res, 500, `stats failed: ${error.message}\n`),
      )
    },
  }
  const authorized = config.statsAuth ? basicAuth(config.statsAuth) : () => true
  return http.createServer((req, res) => {
    const path = String(req.url).split('?', 1)[0] as string
    const endpoint = endpoints[path]
    if (!endpoint) {
      const hint = path.startsWith('/stats') ? 'the stats page is at /; ' : ''
      return text(res, 404, `not found: ${hint}the admin endpoints are ${ADMIN_ENDPOINTS}\n`)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      return text(res, 405, 'method not allowed\n')
    }
    if (!OPEN_PATHS.has(path) && !authorized(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Basic realm="colorproxy", charset="UTF-8"')
      return text(res, 401, 'authentication required\n')
    }
    endpoint(req, res)
  })
}

/** Checks `Authorization: Basic ...` in constant time (digests first, so lengths do not leak either). */
export function basicAuth(expected: { user: string; pass: string }): (header: string | undefined) => boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest()
  const user = digest(expected.user)
  const pass = digest(expected.pass)
  return (header) => {
    const match = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(header ?? '')
    const decoded = Buffer.from(match?.[1] ?? '', 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    const given = colon < 0 ? ['', '\0'] : [decoded.slice(0, colon), decoded.slice(colon + 1)]
    // Both compared every time: no early exit on a wrong user name.
    const userOk = timingSafeEqual(digest(given[0] as string), user)
    const passOk = timingSafeEqual(digest(given[1] as string), pass)
    return userOk && passOk
  }
}

/** /config: the configuration, and what changes: the certificates served, the fleet (FLEET_STORE). */
function configEndpoint(config: Config, state: AdminState): AdminEndpoint {
  const view = configView(config)
  const viewText = JSON.stringify(view, null, 2)
  return (_req, res) => {
    // The certificates change (TLS_CERTS_DIR, ACME): said as they are now, names, source and end only.
    const certificates = state.certificates?.().map(certificateView)
    const said = (fleet?: object) => {
      const live = { ...(certificates && { certificates }), ...(fleet && { fleet }) }
      const body = Object.keys(live).length > 0 ? JSON.stringify({ ...view, ...live }, null, 2) : viewText
      send(res, 200, 'application/json', `${body}\n`)
    }
    if (!state.fleet) return said()
    state.fleet().then(
      (fleet) => said(fleetConfigView(config, fleet)),
      () => said(fleetConfigView(config, undefined)),
    )
  }
}

/** FLEET_STORE on /config: the store (never its password), this member, and who leads each canary. */
function fleetConfigView(config: Config, fleet: FleetView | undefined): object {
  const { fleet: given } = config
  return {
    name: given?.name,
    store: given?.store.shown,
    rate_limit_shared: given?.rateLimitShared,
    me: fleet?.me ?? null,
    store_reachable: fleet?.reachable ?? false,
    members: fleet?.members.map((member) => member.id) ?? [],
    leaders: fleet?.leaders ?? {},
  }
}

/** A served certificate as /config shows it: never its key. */
function certificateView(certificate: Certificate): object {
  return {
    names: certificate.names,
    source: sourceOf(certificate),
    not_after: certificate.notAfter.toISOString(),
  }
}

/** The stats with each served certificate's remaining life, when this process serves TLS. */
async function withCertificates(state: AdminState): Promise<SitesSnapshot> {
  const stats = await state.stats()
  if (!state.certificates) return stats
  const now = state.now?.() ?? Date.now()
  return { ...stats, certificates: state.certificates().map((one) => certificateLife(one, now)) }
}

/** A served certificate on the stats page: its names, source, end and the seconds left. */
function certificateLife(certificate: Certificate, now: number): CertificateLife {
  return {
    names: certificate.names,
    source: sourceOf(certificate),
    notAfter: certificate.notAfter.toISOString(),
    remainingS: secondsLeft(certificate, now),
  }
}

/** The effective configuration, with upstream credentials redacted. */
export function configView(config: Config): object {
  return {
    sites: config.sites.map(siteView),
    listen: config.listen,
    admin: config.admin,
    color_header: config.colorHeader,
    preserve_host: config.preserveHost,
    // BlockList's own words: "Subnet: IPv4 10.0.0.0/8".
    trusted_proxies: config.trustedProxies?.rules ?? [],
    timeouts_ms: {
      connect: config.timeouts.connectMs,
      server: config.timeouts.serverMs,
      server_idle: config.timeouts.serverIdleMs,
      client: config.timeouts.clientMs,
      http_keep_alive: config.timeouts.keepAliveMs,
      tunnel: config.timeouts.tunnelMs,
    },
    upstream_ms: {
      max_socket_age: config.upstream.maxSocketAgeMs,
      keep_alive: config.upstream.keepAliveMs,
      resolve_every: config.upstream.resolveEveryMs,
    },
    shutdown_ms: { delay: config.shutdown.delayMs, timeout: config.shutdown.timeoutMs },
    log: config.log,
    eject: { after: config.eject.after, for_ms: config.eject.forMs },
    // The user name is not a secret; the password never leaves the process.
    workers: config.workers,
    stats_auth: config.statsAuth ? { user: config.statsAuth.user } : null,
  }
}

/** One site: what it answers, its colors and its own settings; user names only, never their hashes. */
function siteView(site: SiteConfig): object {
  const share = shares(site.colors)
  return {
    name: site.name,
    hosts: site.hosts ?? null,
    paths: site.paths,
    strip_path: site.stripPath,
    colors: site.colors.map((color) => ({
      name: color.name,
      variable: color.variable,
      upstream: redactUrl(color.upstream),
      weight: color.weight,
      share_percent: share.get(color.name),
    })),
    sticky: {
      mode: site.sticky.mode,
      ...(site.sticky.mode === 'header' && { header: site.sticky.header }),
      cookie: site.sticky.cookie,
      ttl_ms: site.sticky.ttlMs,
    },
    override_header: site.overrideHeader ?? null,
    failover: site.failover,
    users: site.users ? [...site.users.keys()] : null,
  }
}

function text(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/plain; charset=utf-8', body)
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}
