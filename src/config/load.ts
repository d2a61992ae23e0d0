// loadConfig(env, io) turns an environment into a Config, or throws one ConfigError that lists every
// problem. One pass over the spec table (spec.ts): each variable, or the file its `_FILE` twin
// names, is read by the table's parser (a default is the table's text, read by the same parser), and every
// problem is collected; then the few checks that span variables. It never exits and never touches
// process.env: file reads go through the injected `readFile`.
import { readdirSync, readFileSync } from 'node:fs'
import type { BlockList } from 'node:net'
import dotenv from 'dotenv'
import type { LogFormat, LogLevel } from '../../lib/values.js'
import { DEFAULTS, FIXED, FIXED_NAMES, type Values, type VariableSpec } from './spec.js'
import { type Certificate, readCertificate, readCertificateDir } from './certificates.js'
import { type ColorConfig, type ConfigProblem, type Reader, readSites, type SiteConfig } from './sites.js'
import { strayVariables } from './stray-variables.js'
import { readError } from './file-errors.js'
import type { AcmeStoreAddress } from './acme-values.js'
import type { RedisAddress } from './redis-url.js'
import { colorVariable } from './validators.js'

export type { ColorConfig, ConfigProblem, SiteConfig }

export type Env = Readonly<Record<string, string | undefined>>

/**
 * What every other module reads. Each field names the variables it comes from; their defaults, types and
 * meanings are the spec table's alone (spec.ts, printed as docs/configuration.md and --help).
 */
export interface Config {
  /** The sites (SITES), the default one (the unprefixed colors) first when there is one. */
  sites: SiteConfig[]
  /** Traffic listener (PORT, HOST). */
  listen: { port: number; host: string }
  /** Admin listener (ADMIN_PORT, ADMIN_HOST): health, readiness, config. */
  admin: { port: number; host: string }
  /** Request header set to the chosen color (COLOR_HEADER). */
  colorHeader: string
  /** Forward the client's Host header (PRESERVE_HOST); false sends the upstream's. */
  preserveHost: boolean
  /** Peers whose X-Forwarded-* are kept and appended to (TRUSTED_PROXIES); undefined: none. */
  trustedProxies: BlockList | undefined
  /** PROXY_PROTOCOL and MAX_CONNECTIONS_PER_CLIENT (0: off). */
  clients: { proxyProtocol: boolean; maxPerClient: number }
  timeouts: {
    /** Upstream TCP/TLS connect, then 504 (TIMEOUT_CONNECT). */
    connectMs: number
    /** Upstream response headers, then 504 (TIMEOUT_SERVER). */
    serverMs: number
    /** Silence from the upstream while its body streams, then the answer is cut (TIMEOUT_SERVER_IDLE). */
    serverIdleMs: number
    /** Client request headers and body, then 408 (TIMEOUT_CLIENT). */
    clientMs: number
    /** Idle client keep-alive connection (TIMEOUT_HTTP_KEEP_ALIVE). */
    keepAliveMs: number
    /** Idle WebSocket tunnel (TIMEOUT_TUNNEL). */
    tunnelMs: number
  }
  upstream: {
    /** An upstream connection is retired once this old, so a Swarm VIP spreads new connections (UPSTREAM_MAX_SOCKET_AGE). */
    maxSocketAgeMs: number
    /** An idle upstream connection closes after this long (UPSTREAM_KEEP_ALIVE). */
    keepAliveMs: number
    /** How often an upstream host name is resolved again (UPSTREAM_RESOLVE_EVERY). */
    resolveEveryMs: number
    /** Connections, waiting requests and the wait per color of a site (UPSTREAM_MAX_CONNECTIONS, UPSTREAM_MAX_PENDING, TIMEOUT_QUEUE). */
    limits: { maxConnections: number; maxPending: number; queueTimeoutMs: number }
  }
  shutdown: {
    /** After SIGTERM, keep serving this long while the orchestrator stops routing here (SHUTDOWN_DELAY). */
    delayMs: number
    /** Then wait this long for in-flight requests before closing them (SHUTDOWN_TIMEOUT). */
    timeoutMs: number
  }
  log: { level: LogLevel; format: LogFormat }
  /** Consecutive connect failures that take a color out of the split (EJECT_AFTER; 0: never), and for how long (EJECT_FOR). */
  eject: { after: number; forMs: number }
  /** Processes serving traffic (WORKERS): more than one runs a node:cluster primary; auto = available cores. */
  workers: number | 'auto'
  /** The TLS listener, when there is a certificate (TLS_CERT, TLS_CERTS_DIR) or ACME; undefined: none. */
  tls: TlsConfig | undefined
  /** ACME: certificates ordered and renewed for these names; undefined: off. */
  acme: AcmeConfig | undefined
  /** FLEET_STORE, FLEET_NAME, RATE_LIMIT_SHARED; undefined: every replica alone. */
  fleet: FleetConfig | undefined
  /** HTTPS_REDIRECT: the plain port answers 308 to https://, with this port in the URL (443: none). */
  httpsRedirect: { port: number } | undefined
  /** HSTS max-age in seconds, on HTTPS answers; undefined: off. */
  hstsSeconds: number | undefined
  /** AUTH_REALM, for every site's basic auth (USERS, <SITE>_USERS). */
  authRealm: string
  /** How https:// upstreams are checked (UPSTREAM_CA, UPSTREAM_TLS_VERIFY). */
  upstreamTls: { ca: string | undefined; verify: boolean }
  /** CANARY_ABORT_HEALTH: after a canary aborts, /healthz answers 503 (a Swarm update then rolls back). */
  canaryAbortHealth: boolean
  /** MIRROR_MAX_IN_FLIGHT: mirrored copies at once, per process. */
  mirrorMaxInFlight: number
  /** Basic auth on the admin listener except /healthz and /readyz (STATS_USER, STATS_PASS). */
  statsAuth: { user: string; pass: string } | undefined
  /** Things worth saying at startup that do not stop it (a weight left behind by `--env-rm GREEN`). */
  warnings: string[]
}

export interface TlsConfig {
  port: number
  host: string
  /** Offer h2 in ALPN (HTTP2). */
  http2: boolean
  minVersion: 'TLSv1.2' | 'TLSv1.3'
  /** TLS_CERT's certificate (the fallback for unknown names), then TLS_CERTS_DIR's by file name. */
  certificates: Certificate[]
  /** TLS_CERTS_DIR, read again every reloadEveryMs. */
  dir: string | undefined
  reloadEveryMs: number
}

export interface AcmeConfig {
  /** ACME_DOMAINS, then every exact name in the sites' hosts, each once. */
  names: string[]
  email: string
  directory: string
  /** ACME_CA: the PEM trusted for the directory's HTTPS; undefined: the system's. */
  ca: string | undefined
  challenge: 'http-01' | 'tls-alpn-01'
  /** ACME_STORE (else FLEET_STORE): a folder, or a Redis. */
  store: AcmeStoreAddress
  /** A Redis store's key prefix: `<FLEET_NAME>:acme:`. */
  storePrefix: string
  renewBeforeMs: number
  /** ACME_EAB_KID and ACME_EAB_HMAC_KEY; undefined: none. */
  eab: { kid: string; hmacKey: string } | undefined
}

export interface FleetConfig {
  store: RedisAddress
  /** The prefix of every key, without its `:`. */
  name: string
  /** RATE_LIMIT_SHARED: one budget per client key for the fleet. */
  rateLimitShared: boolean
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.variable}: ${p.message}`).join('\n'))
    this.name = 'ConfigError'
  }
}

export interface ConfigIo {
  /** Reads a file as UTF-8; throws (ENOENT, EACCES, ...) like fs.readFileSync. */
  readFile(path: string): string
  /** The names of the files in a folder; throws like fs.readdirSync. Default: the file system's. */
  list?(dir: string): string[]
}

/** The file names in a folder, folders left out. */
export const listFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true })
    .filter((entry) => !entry.isDirectory())
    .map((entry) => entry.name)

const nodeIo: ConfigIo = { readFile: (path) => readFileSync(path, 'utf8'), list: listFiles }

export const ENV_FILE_DEFAULT = DEFAULTS.ENV_FILE as string

/** Every variable name colorproxy reads for these colors (their `_FILE` twins are read too). */
export function variableNames(colors: readonly string[]): string[] {
  const perColor = colors.flatMap((color) => [colorVariable(color), `${colorVariable(color)}_WEIGHT`])
  return [...FIXED_NAMES, ...perColor]
}

export function loadConfig(processEnv: Env, io: ConfigIo = nodeIo): Config {
  const problems: ConfigProblem[] = []
  const env = withEnvFile(processEnv, io, problems)
  const reader = createReader(env, io, problems)
  // One pass over the table: every fixed variable read by its own parser, every problem collected.
  const values: Partial<Values> = Object.fromEntries(
    FIXED.map((entry) => [entry.name, reader.value(entry.name, entry as VariableSpec)]),
  )
  const warnings: string[] = []
  const sites = readSites(values, reader, problems, warnings)
  checkPairs(values, problems)
  warnings.push(
    ...strayVariables(Object.keys(env), {
      read: reader.read,
      sites: values.SITES ?? [],
      colors: values.COLORS ?? [],
    }),
  )
  const certificates = readCertificates(values, io, problems, warnings)
  const acme = acmeOf(values, sites, problems, reader.given('ACME_STORE'))
  if (problems.length > 0) throw new ConfigError(problems)
  return build(values as Values, sites, warnings, certificates, acme)
}

function createReader(
  env: Env,
  io: ConfigIo,
  problems: ConfigProblem[],
): Reader & { read: Set<string>; given(name: string): boolean } {
  const read = new Set<string>(['ENV_FILE'])
  // Values read from a *_FILE are treated as secrets: never shown in a message.
  const fromFile = new Set<string>()
  const text = (name: string) => {
    read.add(name)
    return resolveFileVariable(env, name, io, fromFile, problems)
  }
  return {
    read,
    text,
    given: (name) => env[name] !== undefined || env[`${name}_FILE`] !== undefined,
    value(name, entry, raw = text(name)) {
      const input = raw ?? entry.default
      if (input === undefined) return undefined
      try {
        return entry.parse(input)
      } catch (error) {
        const shown = entry.secret || fromFile.has(name) ? undefined : input
        problems.push(problem(name, (error as Error).message, shown))
        return undefined
      }
    },
  }
}

/** Variables that only make sense together; a variable that failed on its own is not judged again. */
function checkPairs(values: Partial<Values>, problems: ConfigProblem[]): void {
  // A variable whose own value or _FILE failed is said already: its pair is not also called "half set".
  const failed = new Set(problems.map((problem) => problem.variable.replace(/_FILE$/, '')))
  const judged = (...names: string[]) => names.every((name) => !failed.has(name))
  const { PORT, ADMIN_PORT } = values
  if (PORT !== undefined && PORT !== 0 && PORT === ADMIN_PORT) {
    problems.push({
      variable: 'PORT, ADMIN_PORT',
      message: 'must differ: the admin listener is never proxied',
    })
  }
  if (
    judged('STATS_USER', 'STATS_PASS') &&
    (blankless(values.STATS_USER) === undefined) !== (blankless(values.STATS_PASS) === undefined)
  ) {
    problems.push({ variable: 'STATS_USER, STATS_PASS', message: 'set both for basic auth, or neither' })
  }
  if (values.RATE_LIMIT_SHARED === true && values.FLEET_STORE === undefined && judged('FLEET_STORE')) {
    problems.push({
      variable: 'RATE_LIMIT_SHARED, FLEET_STORE',
      message: 'RATE_LIMIT_SHARED=true needs FLEET_STORE: the Redis the replicas share the budget in',
    })
  }
  if (values.PROXY_PROTOCOL === true && values.TRUSTED_PROXIES === undefined) {
    problems.push({
      variable: 'PROXY_PROTOCOL, TRUSTED_PROXIES',
      message: 'PROXY_PROTOCOL=true needs TRUSTED_PROXIES: the peers whose PROXY header is believed',
    })
  }
  if (
    judged('ACME_EAB_KID', 'ACME_EAB_HMAC_KEY') &&
    (values.ACME_EAB_KID === undefined) !== (values.ACME_EAB_HMAC_KEY === undefined)
  ) {
    problems.push({
      variable: 'ACME_EAB_KID, ACME_EAB_HMAC_KEY',
      message: 'set both for external account binding, or neither',
    })
  }
  if (judged('TLS_CERT', 'TLS_KEY') && (values.TLS_CERT === undefined) !== (values.TLS_KEY === undefined)) {
    problems.push({
      variable: 'TLS_CERT, TLS_KEY',
      message: 'set both (a certificate and its key), or neither',
    })
  }
  const tls = values.TLS_CERT !== undefined || values.TLS_CERTS_DIR !== undefined || values.ACME === true
  const { HTTPS_PORT } = values
  if (
    tls &&
    HTTPS_PORT !== undefined &&
    HTTPS_PORT !== 0 &&
    (HTTPS_PORT === PORT || HTTPS_PORT === ADMIN_PORT)
  ) {
    problems.push({ variable: 'HTTPS_PORT, PORT, ADMIN_PORT', message: 'must all differ' })
  }
}

/**
 * TLS_CERT with TLS_KEY, then every file in TLS_CERTS_DIR: each must read and its key match, or startup
 * stops; an expired one is a warning. Undefined when neither is set.
 */
function readCertificates(
  values: Partial<Values>,
  io: ConfigIo,
  problems: ConfigProblem[],
  warnings: string[],
): Certificate[] | undefined {
  const { TLS_CERT, TLS_KEY, TLS_CERTS_DIR } = values
  if (TLS_CERT === undefined && TLS_CERTS_DIR === undefined) return undefined
  const found: Certificate[] = []
  const fail = (variable: string, message: string) => problems.push({ variable, message })
  if (TLS_CERT !== undefined && TLS_KEY !== undefined) {
    try {
      found.push(readCertificate('TLS_CERT', TLS_CERT, TLS_KEY))
    } catch (error) {
      fail('TLS_CERT, TLS_KEY', (error as Error).message.replace(/^TLS_CERT:? /, ''))
    }
  }
  if (TLS_CERTS_DIR !== undefined) {
    try {
      const dir = readCertificateDir(TLS_CERTS_DIR, { readFile: io.readFile, list: io.list ?? listFiles })
      found.push(...dir.certificates)
      for (const failure of dir.failures) fail('TLS_CERTS_DIR', failure.message)
      if (dir.certificates.length + dir.failures.length === 0)
        fail('TLS_CERTS_DIR', `${TLS_CERTS_DIR} has no files`)
    } catch (error) {
      fail('TLS_CERTS_DIR', cannotRead(TLS_CERTS_DIR, error))
    }
  }
  const now = Date.now()
  for (const { source, notAfter } of found) {
    if (notAfter.getTime() < now) warnings.push(`TLS: ${source} expired on ${notAfter.toISOString()}`)
  }
  return found
}

/** ACME=true: the names to certify and how; a problem when there is no contact or no name. */
function acmeOf(
  values: Partial<Values>,
  sites: SiteConfig[],
  problems: ConfigProblem[],
  storeGiven: boolean,
): AcmeConfig | undefined {
  if (values.ACME !== true) return undefined
  const hosts = sites.flatMap((site) => site.hosts ?? []).filter((host) => !host.startsWith('*.'))
  const names = [...new Set([...(values.ACME_DOMAINS ?? []), ...hosts])]
  // A variable that failed on its own is said already: no second line says it is missing.
  const failed = (name: string) => problems.some((one) => one.variable.startsWith(name))
  if (values.ACME_EMAIL === undefined && !failed('ACME_EMAIL')) {
    problems.push({
      variable: 'ACME_EMAIL',
      message: "ACME=true needs the account's contact: set ACME_EMAIL",
    })
  }
  if (names.length === 0 && !failed('ACME_DOMAINS')) {
    problems.push({
      variable: 'ACME, ACME_DOMAINS',
      message: 'ACME=true has no name to certify: set ACME_DOMAINS, or a site with <SITE>_HOSTS',
    })
  }
  const eab =
    values.ACME_EAB_KID !== undefined && values.ACME_EAB_HMAC_KEY !== undefined
      ? { kid: values.ACME_EAB_KID, hmacKey: values.ACME_EAB_HMAC_KEY }
      : undefined
  return {
    names,
    email: values.ACME_EMAIL as string,
    directory: values.ACME_DIRECTORY as string,
    ca: values.ACME_CA,
    challenge: values.ACME_CHALLENGE as AcmeConfig['challenge'],
    // Unset with FLEET_STORE set: the fleet's Redis, keys under <FLEET_NAME>:acme:.
    store:
      !storeGiven && values.FLEET_STORE !== undefined
        ? { kind: 'redis', redis: values.FLEET_STORE }
        : (values.ACME_STORE as AcmeStoreAddress),
    storePrefix: `${values.FLEET_NAME}:acme:`,
    renewBeforeMs: values.ACME_RENEW_BEFORE as number,
    eab,
  }
}

const blankless = (value: string | undefined) => (value === '' ? undefined : value)

/** The Config every other module reads, from values that all passed. */
function build(
  values: Values,
  sites: SiteConfig[],
  warnings: string[],
  certificates: Certificate[] | undefined,
  acme: AcmeConfig | undefined,
): Config {
  const user = blankless(values.STATS_USER)
  const pass = blankless(values.STATS_PASS)
  if (!values.UPSTREAM_TLS_VERIFY) {
    warnings.push(
      'UPSTREAM_TLS_VERIFY=false: https:// upstreams are not checked; anyone on the path can read and change that traffic',
    )
  }
  if (values.RATE_LIMIT_SHARED && values.FLEET_STORE && sites.every((site) => site.rateLimit === undefined)) {
    warnings.push('RATE_LIMIT_SHARED=true but no site has a RATE_LIMIT: there is no budget to share')
  }
  if (values.HSTS !== undefined && certificates === undefined && acme === undefined) {
    warnings.push('HSTS is set but there is no TLS listener (TLS_CERT or TLS_CERTS_DIR): it is never sent')
  }
  return {
    sites,
    listen: { port: values.PORT, host: values.HOST },
    admin: { port: values.ADMIN_PORT, host: values.ADMIN_HOST },
    colorHeader: values.COLOR_HEADER,
    preserveHost: values.PRESERVE_HOST,
    trustedProxies: values.TRUSTED_PROXIES,
    clients: { proxyProtocol: values.PROXY_PROTOCOL, maxPerClient: values.MAX_CONNECTIONS_PER_CLIENT },
    timeouts: timeoutsOf(values),
    upstream: upstreamOf(values),
    shutdown: { delayMs: values.SHUTDOWN_DELAY, timeoutMs: values.SHUTDOWN_TIMEOUT },
    log: { level: values.LOG_LEVEL, format: values.LOG_FORMAT },
    eject: { after: values.EJECT_AFTER, forMs: values.EJECT_FOR },
    workers: values.WORKERS,
    statsAuth: user !== undefined && pass !== undefined ? { user, pass } : undefined,
    acme,
    fleet: values.FLEET_STORE && {
      store: values.FLEET_STORE,
      name: values.FLEET_NAME,
      rateLimitShared: values.RATE_LIMIT_SHARED,
    },
    tls: (certificates || acme) && {
      port: values.HTTPS_PORT,
      host: values.HTTPS_HOST ?? values.HOST,
      http2: values.HTTP2,
      minVersion: values.TLS_MIN_VERSION,
      certificates: certificates ?? [],
      dir: values.TLS_CERTS_DIR,
      reloadEveryMs: values.TLS_RELOAD_EVERY,
    },
    httpsRedirect: values.HTTPS_REDIRECT ? { port: values.HTTPS_REDIRECT_PORT } : undefined,
    hstsSeconds: values.HSTS,
    authRealm: values.AUTH_REALM,
    upstreamTls: { ca: values.UPSTREAM_CA, verify: values.UPSTREAM_TLS_VERIFY },
    canaryAbortHealth: values.CANARY_ABORT_HEALTH,
    mirrorMaxInFlight: values.MIRROR_MAX_IN_FLIGHT,
    warnings,
  }
}

function timeoutsOf(values: Values): Config['timeouts'] {
  return {
    connectMs: values.TIMEOUT_CONNECT,
    serverMs: values.TIMEOUT_SERVER,
    serverIdleMs: values.TIMEOUT_SERVER_IDLE,
    clientMs: values.TIMEOUT_CLIENT,
    keepAliveMs: values.TIMEOUT_HTTP_KEEP_ALIVE,
    tunnelMs: values.TIMEOUT_TUNNEL,
  }
}

function upstreamOf(values: Values): Config['upstream'] {
  return {
    maxSocketAgeMs: values.UPSTREAM_MAX_SOCKET_AGE,
    keepAliveMs: values.UPSTREAM_KEEP_ALIVE,
    resolveEveryMs: values.UPSTREAM_RESOLVE_EVERY,
    limits: {
      maxConnections: values.UPSTREAM_MAX_CONNECTIONS,
      maxPending: values.UPSTREAM_MAX_PENDING,
      queueTimeoutMs: values.TIMEOUT_QUEUE,
    },
  }
}

/** The dotenv file (ENV_FILE, default `.env`) under the real environment: the real environment wins. */
function withEnvFile(env: Env, io: ConfigIo, problems: ConfigProblem[]): Env {
  const path = env.ENV_FILE ?? ENV_FILE_DEFAULT
  let text: string
  try {
    text = io.readFile(path)
  } catch (error) {
    // The default file is optional; a file named explicitly must exist.
    if (env.ENV_FILE !== undefined) {
      problems.push({
        variable: 'ENV_FILE',
        message: `cannot read ${path}: ${readError(error)}`,
      })
    }
    return env
  }
  return { ...dotenv.parse(text), ...env }
}

/** `NAME` from the environment, or from the file named by `NAME_FILE` (Docker secrets). */
function resolveFileVariable(
  env: Env,
  name: string,
  io: ConfigIo,
  fromFile: Set<string>,
  problems: ConfigProblem[],
): string | undefined {
  const path = env[`${name}_FILE`]
  if (path === undefined) return env[name]
  if (env[name] !== undefined) {
    problems.push({ variable: `${name}, ${name}_FILE`, message: 'set one or the other, not both' })
    return env[name]
  }
  try {
    fromFile.add(name)
    return io.readFile(path).replace(/\r?\n$/, '')
  } catch (error) {
    problems.push({ variable: `${name}_FILE`, message: cannotRead(path, error) })
    return undefined
  }
}

/** The path is fine to show; the error's code says enough (its message may quote file content). */
function cannotRead(path: string, error: unknown): string {
  return `cannot read ${path}: ${readError(error)}`
}

/** A problem line; `shownValue` is given only when the value cannot be a secret. */
function problem(variable: string, message: string, shownValue?: string): ConfigProblem {
  const shown =
    shownValue !== undefined && shownValue.length <= 64 ? `, got ${JSON.stringify(shownValue)}` : ''
  return { variable, message: `${message}${shown}` }
}
