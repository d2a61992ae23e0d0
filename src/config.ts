// loadConfig(env) turns an environment into a Config, or throws one ConfigError that lists every problem.
// It never exits and never touches process.env: file reads go through the injected `readFile`.
import { readFileSync } from 'node:fs'
import type { BlockList } from 'node:net'
import dotenv from 'dotenv'
import { cleanEnv, makeValidator } from 'envalid'
import { DEFAULTS, FIXED_NAMES } from './config-spec.js'
import { parseTrustedProxies } from './forwarding.js'
import {
  colorVariable,
  parseBoolean,
  parseChoice,
  parseColorList,
  parseCookieName,
  parseCount,
  parseDuration,
  parseHeaderName,
  parseListenHost,
  parsePort,
  parseUpstreamUrl,
  parseSticky,
  parseWorkers,
  parseWeight,
  type Sticky,
} from './validators.js'

export type Env = Readonly<Record<string, string | undefined>>

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

export interface ColorConfig {
  /** `blue` */
  name: string
  /** `BLUE`: the variable that holds the upstream; `BLUE_WEIGHT` holds the weight. */
  variable: string
  upstream: URL
  /** 0 – 1000000; 0 drains the color (no new traffic). */
  weight: number
}

export interface Config {
  /** Colors that have an upstream, in COLORS order. At least one has a weight above 0. */
  colors: ColorConfig[]
  /** Traffic listener (PORT, HOST). */
  listen: { port: number; host: string }
  /** Admin listener (ADMIN_PORT, ADMIN_HOST): health, readiness, config. */
  admin: { port: number; host: string }
  /** Request header set to the chosen color (COLOR_HEADER, default `Color`). */
  colorHeader: string
  /** Forward the client's Host header (PRESERVE_HOST, default true); false sends the upstream's. */
  preserveHost: boolean
  /** Peers whose X-Forwarded-* are kept and appended to (TRUSTED_PROXIES, default none). */
  trustedProxies: BlockList | undefined
  timeouts: {
    /** Upstream TCP/TLS connect, then 504 (TIMEOUT_CONNECT, 5s). */
    connectMs: number
    /** Upstream response headers, then 504 (TIMEOUT_SERVER, 60s). */
    serverMs: number
    /** Silence from the upstream while its body streams, then the answer is cut (TIMEOUT_SERVER_IDLE, 60s). */
    serverIdleMs: number
    /** Client request headers and body, then 408 (TIMEOUT_CLIENT, 60s). */
    clientMs: number
    /** Idle client keep-alive connection (TIMEOUT_HTTP_KEEP_ALIVE, 15s). */
    keepAliveMs: number
    /** Idle WebSocket tunnel (TIMEOUT_TUNNEL, 3600s). */
    tunnelMs: number
  }
  upstream: {
    /** An upstream address's pool is replaced once this old, so a Swarm VIP spreads new connections (UPSTREAM_MAX_SOCKET_AGE, 30s). */
    maxSocketAgeMs: number
    /** How often an upstream host name is resolved again (UPSTREAM_RESOLVE_EVERY, 5s). */
    resolveEveryMs: number
  }
  shutdown: {
    /** After SIGTERM, keep serving this long while the orchestrator stops routing here (SHUTDOWN_DELAY, 2s). */
    delayMs: number
    /** Then wait this long for in-flight requests before closing them (SHUTDOWN_TIMEOUT, 7s). */
    timeoutMs: number
  }
  log: { level: LogLevel; format: LogFormat }
  /** How a returning client keeps its color (STICKY, STICKY_COOKIE, STICKY_TTL). */
  sticky: Sticky & { cookie: string; ttlMs: number }
  /** Header (or cookie) naming a color that wins over every other rule (OVERRIDE_HEADER); off when unset. */
  overrideHeader: string | undefined
  /** Retry once on another color when the upstream cannot be reached (FAILOVER, true). */
  failover: boolean
  /** Consecutive connect failures that take a color out of the split (EJECT_AFTER, 5; 0: never), and for how long (EJECT_FOR, 10s). */
  eject: { after: number; forMs: number }
  /** Processes serving traffic (WORKERS, 1): more than one runs a node:cluster primary; auto = available cores. */
  workers: number | 'auto'
  /** Basic auth on the admin listener except /healthz and /readyz (STATS_USER, STATS_PASS). */
  statsAuth: { user: string; pass: string } | undefined
  /** Things worth saying at startup that do not stop it (a weight left behind by `--env-rm GREEN`). */
  warnings: string[]
}

export interface ConfigProblem {
  /** The variable(s) at fault, e.g. `GREEN_WEIGHT` or `BLUE, GREEN`. */
  variable: string
  /** What is wrong and what is expected, never a value that may be a secret. */
  message: string
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
}

const nodeIo: ConfigIo = { readFile: (path) => readFileSync(path, 'utf8') }

export const ENV_FILE_DEFAULT = DEFAULTS.ENV_FILE as string

/** Every variable name colorproxy reads for these colors (their `_FILE` twins are read too). */
export function variableNames(colors: readonly string[]): string[] {
  const perColor = colors.flatMap((color) => [colorVariable(color), `${colorVariable(color)}_WEIGHT`])
  return [...FIXED_NAMES, ...perColor]
}

export function loadConfig(processEnv: Env, io: ConfigIo = nodeIo): Config {
  const problems: ConfigProblem[] = []
  const env = withEnvFile(processEnv, io, problems)
  // Values read from a *_FILE are treated as secrets: never shown in a message.
  const fromFile = new Set<string>()
  const read = (name: string): string | undefined => resolveFileVariable(env, name, io, fromFile, problems)
  const parse = <T>(value: string, name: string, parser: (input: string) => T, { secret = false } = {}) => {
    try {
      return parser(value)
    } catch (error) {
      problems.push(problem(name, (error as Error).message, secret || fromFile.has(name) ? undefined : value))
      return undefined
    }
  }

  const rawColors = read('COLORS')
  const listed = parse(rawColors ?? (DEFAULTS.COLORS as string), 'COLORS', parseColorList)
  const colors = listed ?? []
  checkColorNames(colors, problems)
  const raw: Record<string, string | undefined> = {}
  for (const name of variableNames(colors)) {
    if (name !== 'COLORS') raw[name] = read(name)
  }

  // envalid cleans the scalar variables; its reporter collects every error instead of exiting. A default
  // is the table's text (config-spec.ts) read by the same parser as a value someone sets.
  const read1 = <T>(name: string, parser: (input: string) => T) =>
    makeValidator<T>(parser)({ default: parser(DEFAULTS[name] as string) as NonNullable<T> })
  const optional = <T>(parser: (input: string) => T) =>
    makeValidator<T | undefined>(parser)({ default: undefined })
  const duration = (input: string) => parseDuration(input, { min: 1 })
  const durationOrZero = (input: string) => parseDuration(input)
  const specs = {
    PORT: read1('PORT', parsePort),
    HOST: read1('HOST', parseListenHost),
    ADMIN_PORT: read1('ADMIN_PORT', parsePort),
    ADMIN_HOST: read1('ADMIN_HOST', parseListenHost),
    COLOR_HEADER: read1('COLOR_HEADER', parseHeaderName),
    PRESERVE_HOST: read1('PRESERVE_HOST', parseBoolean),
    TIMEOUT_CONNECT: read1('TIMEOUT_CONNECT', duration),
    TIMEOUT_SERVER: read1('TIMEOUT_SERVER', duration),
    TIMEOUT_SERVER_IDLE: read1('TIMEOUT_SERVER_IDLE', duration),
    TIMEOUT_CLIENT: read1('TIMEOUT_CLIENT', duration),
    TIMEOUT_HTTP_KEEP_ALIVE: read1('TIMEOUT_HTTP_KEEP_ALIVE', duration),
    TIMEOUT_TUNNEL: read1('TIMEOUT_TUNNEL', duration),
    UPSTREAM_MAX_SOCKET_AGE: read1('UPSTREAM_MAX_SOCKET_AGE', duration),
    UPSTREAM_RESOLVE_EVERY: read1('UPSTREAM_RESOLVE_EVERY', duration),
    SHUTDOWN_DELAY: read1('SHUTDOWN_DELAY', durationOrZero),
    SHUTDOWN_TIMEOUT: read1('SHUTDOWN_TIMEOUT', durationOrZero),
    LOG_LEVEL: read1('LOG_LEVEL', parseChoice(LOG_LEVELS)),
    LOG_FORMAT: read1('LOG_FORMAT', parseChoice(LOG_FORMATS)),
    STICKY: read1('STICKY', parseSticky),
    STICKY_COOKIE: read1('STICKY_COOKIE', parseCookieName),
    STICKY_TTL: read1('STICKY_TTL', duration),
    OVERRIDE_HEADER: optional(parseHeaderName),
    FAILOVER: read1('FAILOVER', parseBoolean),
    EJECT_AFTER: read1('EJECT_AFTER', (input) => parseCount(input, { max: 1000 })),
    EJECT_FOR: read1('EJECT_FOR', duration),
    WORKERS: read1('WORKERS', parseWorkers),
    STATS_USER: optional((input) => input),
    TRUSTED_PROXIES: optional(parseTrustedProxies),
  }
  const invalid = new Set<string>()
  const clean = cleanEnv(raw, specs, {
    reporter: ({ errors }) => {
      for (const [name, error] of Object.entries(errors) as [string, Error][]) {
        invalid.add(name)
        problems.push(problem(name, error.message, fromFile.has(name) ? undefined : raw[name]))
      }
    },
  })

  // envalid's result throws when a variable that failed is read: cross-check only valid ones.
  if (
    !invalid.has('PORT') &&
    !invalid.has('ADMIN_PORT') &&
    clean.PORT !== 0 &&
    clean.PORT === clean.ADMIN_PORT
  ) {
    problems.push({
      variable: 'PORT, ADMIN_PORT',
      message: 'must differ: the admin listener is never proxied',
    })
  }

  const routes: ColorConfig[] = []
  const warnings: string[] = []
  for (const name of colors) {
    const variable = colorVariable(name)
    const weightVariable = `${variable}_WEIGHT`
    const rawUrl = raw[variable]
    const rawWeight = raw[weightVariable]
    // An upstream URL may carry credentials: it is never shown.
    const upstream =
      rawUrl === undefined ? undefined : parse(rawUrl, variable, parseUpstreamUrl, { secret: true })
    const weight = parse(rawWeight ?? (DEFAULTS['<COLOR>_WEIGHT'] as string), weightVariable, parseWeight)
    if (rawUrl === undefined) {
      if (rawWeight !== undefined) {
        warnings.push(`${weightVariable} is set but ${variable} is not: ${name} gets no traffic`)
      }
    } else if (upstream && weight !== undefined) {
      routes.push({ name, variable, upstream, weight })
    }
  }
  const colorVariables = colors.map(colorVariable)
  // When COLORS itself is wrong its problem says so; per-color advice would only add noise.
  if (listed !== undefined && colors.every((color) => raw[colorVariable(color)] === undefined)) {
    problems.push({
      variable: colorVariables.join(', '),
      message: `no color has an upstream: set at least one, e.g. ${colorVariables[0]}=http://myapp-v1:8080`,
    })
  } else if (routes.length > 0 && routes.every((route) => route.weight === 0)) {
    problems.push({
      variable: routes.map((route) => `${route.variable}_WEIGHT`).join(', '),
      message: 'every color with an upstream has weight 0: give at least one a weight above 0',
    })
  }

  // The password is a secret: never shown, and read here rather than by envalid.
  const statsPass = raw.STATS_PASS === '' ? undefined : raw.STATS_PASS
  const statsUser = invalid.has('STATS_USER') || clean.STATS_USER === '' ? undefined : clean.STATS_USER
  if ((statsUser === undefined) !== (statsPass === undefined)) {
    problems.push({ variable: 'STATS_USER, STATS_PASS', message: 'set both for basic auth, or neither' })
  }

  if (problems.length > 0) throw new ConfigError(problems)
  return {
    colors: routes,
    listen: { port: clean.PORT, host: clean.HOST },
    admin: { port: clean.ADMIN_PORT, host: clean.ADMIN_HOST },
    colorHeader: clean.COLOR_HEADER,
    preserveHost: clean.PRESERVE_HOST,
    trustedProxies: clean.TRUSTED_PROXIES,
    timeouts: {
      connectMs: clean.TIMEOUT_CONNECT,
      serverMs: clean.TIMEOUT_SERVER,
      serverIdleMs: clean.TIMEOUT_SERVER_IDLE,
      clientMs: clean.TIMEOUT_CLIENT,
      keepAliveMs: clean.TIMEOUT_HTTP_KEEP_ALIVE,
      tunnelMs: clean.TIMEOUT_TUNNEL,
    },
    upstream: { maxSocketAgeMs: clean.UPSTREAM_MAX_SOCKET_AGE, resolveEveryMs: clean.UPSTREAM_RESOLVE_EVERY },
    shutdown: { delayMs: clean.SHUTDOWN_DELAY, timeoutMs: clean.SHUTDOWN_TIMEOUT },
    log: { level: clean.LOG_LEVEL, format: clean.LOG_FORMAT },
    sticky: { ...clean.STICKY, cookie: clean.STICKY_COOKIE, ttlMs: clean.STICKY_TTL },
    overrideHeader: clean.OVERRIDE_HEADER,
    failover: clean.FAILOVER,
    eject: { after: clean.EJECT_AFTER, forMs: clean.EJECT_FOR },
    workers: clean.WORKERS,
    statsAuth:
      statsUser !== undefined && statsPass !== undefined ? { user: statsUser, pass: statsPass } : undefined,
    warnings,
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
        message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`,
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

/** Color names whose variables would collide with colorproxy's own (`port` → PORT). */
function checkColorNames(colors: readonly string[], problems: ConfigProblem[]): void {
  const fixed = new Set(variableNames([]))
  for (const color of colors) {
    const variable = colorVariable(color)
    if (fixed.has(variable) || fixed.has(`${variable}_WEIGHT`) || variable.endsWith('_FILE')) {
      problems.push({
        variable: 'COLORS',
        message: `${color} clashes with colorproxy's own variable ${variable}`,
      })
    }
  }
}

/** The path is fine to show; the error's code says enough (its message may quote file content). */
function cannotRead(path: string, error: unknown): string {
  return `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`
}

/** A problem line; `shownValue` is given only when the value cannot be a secret. */
function problem(variable: string, message: string, shownValue?: string): ConfigProblem {
  const shown =
    shownValue !== undefined && shownValue.length <= 64 ? `, got ${JSON.stringify(shownValue)}` : ''
  return { variable, message: `${message}${shown}` }
}
