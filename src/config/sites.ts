// The colors, and SITES: which sites there are and what each one's variables say. Without SITES there is
// one site, `default`, read from the unprefixed variables exactly as before; with SITES each site's
// variables carry its prefix (`SHOP_BLUE`), fall back to the global ones where the table says so, and the
// unprefixed colors, when set, are the default site. Every collision and ambiguity is a problem here.
import {
  COLOR_URL,
  COLOR_WEIGHT,
  FIXED_NAMES,
  pattern,
  SITE_SETTINGS,
  type Values,
  type VariableSpec,
} from './spec.js'
import { colorVariable, type RateKey, type Sticky } from './validators.js'

/** The canary's judging rules (CANARY_*), read by canary/controller.ts. */
export interface CanaryRules {
  /** The canary's share in percent at each step, rising, the last at most 100 (CANARY_STEPS). */
  steps: readonly number[]
  intervalMs: number
  /** Percent of the interval's answers that may be failures (CANARY_MAX_ERROR_RATE). */
  maxErrorRate: number
  maxP99Ms: number
  minRequests: number
}

/** RATE_LIMIT, RATE_LIMIT_BURST, RATE_LIMIT_BY of a site. */
export interface RateLimitRule {
  /** Requests per second, above 0. */
  rate: number
  /** The bucket's size: requests a client may send at once. */
  burst: number
  by: RateKey
}

/** HEALTH_CHECK_PATH and the HEALTH_CHECK_* rules of a site. */
export interface HealthRules {
  /** HEALTH_CHECK_PATH, e.g. `/healthz`. */
  path: string
  intervalMs: number
  timeoutMs: number
  /** Failures in a row that take an address out. */
  fails: number
  /** Passes in a row that bring it back. */
  passes: number
}

export interface ColorConfig {
  /** `blue` */
  name: string
  /** `BLUE`: the variable that holds the upstream (`SHOP_BLUE` in a site); `_WEIGHT` holds the weight. */
  variable: string
  upstream: URL
  /** 0 – 1000000; 0 drains the color (no new traffic). */
  weight: number
}

export interface SiteConfig {
  /** `shop`; `default` for the unprefixed site. */
  name: string
  /** `SHOP_`; empty for the default site. */
  prefix: string
  /** Undefined: any host. Normalized: `shop.example.com`, `*.example.com`. */
  hosts: string[] | undefined
  /** Path prefixes, `['/']` unless `<SITE>_PATHS`. */
  paths: string[]
  stripPath: boolean
  /** Colors that have an upstream, in the site's COLORS order. At least one has a weight above 0. */
  colors: ColorConfig[]
  /** How a returning client keeps its color (STICKY, STICKY_COOKIE with `-<site>` in a named site, STICKY_TTL). */
  sticky: Sticky & { cookie: string; ttlMs: number }
  /** Header (or cookie) naming a color that wins over every other rule (OVERRIDE_HEADER); off when unset. */
  overrideHeader: string | undefined
  /** Retry once on another color when the upstream cannot be reached (FAILOVER). */
  failover: boolean
  /** USERS: hash by user name, for basic auth; undefined: off. */
  users: ReadonlyMap<string, string> | undefined
  /** CANARY: the color rolled out in judged steps, and the rules; undefined: off. */
  canary: { color: string; rules: CanaryRules } | undefined
  /** MIRROR: the color that gets copies of bodiless GET/HEAD requests, and what share; undefined: off. */
  mirror: { color: string; percent: number } | undefined
  /** RATE_LIMIT, RATE_LIMIT_BURST, RATE_LIMIT_BY; undefined: off. */
  rateLimit: RateLimitRule | undefined
  /** HEALTH_CHECK_PATH and its rules; undefined: passive ejection only. */
  healthCheck: HealthRules | undefined
}

export interface ConfigProblem {
  /** The variable(s) at fault, e.g. `GREEN_WEIGHT` or `BLUE, GREEN`. */
  variable: string
  /** What is wrong and what is expected, never a value that may be a secret. */
  message: string
}

/** Reads a variable (or its `_FILE`) and parses it with its table entry; problems are collected. */
export interface Reader {
  /** The text of NAME, or of the file NAME_FILE names; undefined when unset. */
  text(name: string): string | undefined
  /** NAME parsed by `entry`, its default when unset; undefined (and a problem said) when bad. */
  value<T>(name: string, entry: VariableSpec<T>, raw?: string): T | undefined
}

/** Every site, the default one first; problems and warnings are added to. */
export function readSites(
  values: Partial<Values>,
  reader: Reader,
  problems: ConfigProblem[],
  warnings: string[],
): SiteConfig[] {
  const colors = values.COLORS ?? []
  const named = values.SITES ?? []
  checkColorNames('', 'COLORS', colors, problems)
  const read = readColors('', colors, reader, warnings)
  const sites: SiteConfig[] = []
  // With SITES, the unprefixed colors are optional: set, they are the default site.
  if (values.SITES === undefined || read.anyUpstream) {
    if (values.COLORS !== undefined) checkColors(colors, read, '', problems)
    const own = (suffix: string) => (values as Record<string, unknown>)[suffix]
    sites.push({
      ...globalSettings(values),
      name: 'default',
      prefix: '',
      colors: read.colors,
      ...rollout('', { names: colors, read: read.colors }, own as Own, problems, () => true),
    })
  }
  checkSiteNames(named, values, reader, problems)
  for (const name of named) sites.push(readSite(name, values, reader, problems, warnings))
  checkClaims(sites, problems, warnings)
  return sites
}

/**
 * The unprefixed site's settings, and every site's fallback. Every value here has its default from the
 * table; one that failed to parse is undefined, but then a problem was said and no Config is built, so no
 * default is written again here.
 */
function globalSettings(partial: Partial<Values>) {
  const values = partial as Values
  return {
    hosts: undefined,
    paths: ['/'],
    stripPath: false,
    sticky: { ...values.STICKY, cookie: values.STICKY_COOKIE, ttlMs: values.STICKY_TTL },
    overrideHeader: values.OVERRIDE_HEADER,
    failover: values.FAILOVER,
    users: values.USERS,
    rateLimit: rateLimitRule(values.RATE_LIMIT, values.RATE_LIMIT_BURST, values.RATE_LIMIT_BY),
    healthCheck: healthRules(values, values.HEALTH_CHECK_PATH),
  }
}

/** The HEALTH_CHECK_* rules for a path; none without one. */
function healthRules(values: Values, path: string | undefined): HealthRules | undefined {
  if (path === undefined) return undefined
  return {
    path,
    intervalMs: values.HEALTH_CHECK_INTERVAL,
    timeoutMs: values.HEALTH_CHECK_TIMEOUT,
    fails: values.HEALTH_CHECK_FAILS,
    passes: values.HEALTH_CHECK_PASSES,
  }
}

/** RATE_LIMIT 0 is off; the burst is twice the rate unless given. */
function rateLimitRule(rate: number, burst: number | undefined, by: RateKey) {
  if (rate === 0) return undefined
  return { rate, burst: burst ?? 2 * rate, by }
}

function readSite(
  name: string,
  values: Partial<Values>,
  reader: Reader,
  problems: ConfigProblem[],
  warnings: string[],
): SiteConfig {
  const prefix = `${colorVariable(name)}_`
  const global = globalSettings(values)
  /** The site's own value (read by the global variable's parser), or the global one when it is unset. */
  const own = <T>(suffix: string, fallback: T): T => {
    const variable = `${prefix}${suffix}`
    const raw = reader.text(variable)
    const entry = SITE_SETTINGS.get(suffix) as VariableSpec<T>
    return raw === undefined ? fallback : (reader.value(variable, entry, raw) ?? fallback)
  }
  const colors = own('COLORS', values.COLORS ?? [])
  checkColorNames(prefix, `${prefix}COLORS`, colors, problems)
  const read = readColors(prefix, colors, reader, warnings)
  checkColors(colors, read, prefix, problems)
  const sticky = own('STICKY', global.sticky as Sticky)
  return {
    name,
    prefix,
    hosts: own<string[] | undefined>('HOSTS', undefined),
    paths: own('PATHS', ['/']),
    stripPath: own('STRIP_PATH', false),
    colors: read.colors,
    sticky: { ...sticky, cookie: `${global.sticky.cookie}-${name}`, ttlMs: global.sticky.ttlMs },
    overrideHeader: own('OVERRIDE_HEADER', global.overrideHeader),
    failover: own('FAILOVER', global.failover),
    users: own('USERS', global.users),
    rateLimit: rateLimitRule(
      own('RATE_LIMIT', values.RATE_LIMIT as number),
      own('RATE_LIMIT_BURST', values.RATE_LIMIT_BURST),
      own('RATE_LIMIT_BY', values.RATE_LIMIT_BY as RateKey),
    ),
    healthCheck: healthRules(values as Values, own('HEALTH_CHECK_PATH', values.HEALTH_CHECK_PATH)),
    ...rollout(
      prefix,
      { names: colors, read: read.colors },
      (suffix) => own(suffix, (values as Record<string, unknown>)[suffix]),
      problems,
      (suffix) => reader.text(`${prefix}${suffix}`) !== undefined,
    ),
  }
}

/** A setting by its global name (`CANARY_STEPS`), the site's own where it has one. */
type Own = (suffix: string) => unknown

/**
 * CANARY and MIRROR for one site: each must name a color with an upstream, and a canary needs a baseline
 * (another color with a weight above 0) to fall back on. A site that only inherits the global CANARY or
 * MIRROR and cannot take it (no such color, no baseline) simply has none; its own variable must be right.
 */
function rollout(
  prefix: string,
  { names, read: colors }: { names: readonly string[]; read: readonly ColorConfig[] },
  own: Own,
  problems: ConfigProblem[],
  explicit: (suffix: string) => boolean,
): Pick<SiteConfig, 'canary' | 'mirror'> {
  // A name that is no color at all is a typo, not a missing upstream.
  const unserved = (color: string) =>
    names.includes(color)
      ? `${color} has no upstream: set ${prefix}${colorVariable(color)}`
      : `${color} is not a color (${names.join(', ')})`
  const has = (color: string) => colors.some((one) => one.name === color)
  const baseline = (canary: string) => colors.some((color) => color.name !== canary && color.weight > 0)
  const fits = (color: string) => has(color) && baseline(color)
  const taken = (suffix: string, ok: (color: string) => boolean) => {
    const color = own(suffix) as string | undefined
    return color !== undefined && (explicit(suffix) || ok(color)) ? color : undefined
  }
  const canary = taken('CANARY', fits)
  const mirror = taken('MIRROR', has)
  const result: Pick<SiteConfig, 'canary' | 'mirror'> = { canary: undefined, mirror: undefined }
  if (canary !== undefined) {
    if (!has(canary)) {
      problems.push({
        variable: `${prefix}CANARY`,
        message: unserved(canary),
      })
    } else if (!baseline(canary)) {
      problems.push({
        variable: `${prefix}CANARY`,
        message: `${canary} needs a baseline: another color with an upstream and a weight above 0`,
      })
    } else {
      const rules = {
        steps: own('CANARY_STEPS') as number[],
        intervalMs: own('CANARY_INTERVAL') as number,
        maxErrorRate: own('CANARY_MAX_ERROR_RATE') as number,
        maxP99Ms: own('CANARY_MAX_P99') as number,
        minRequests: own('CANARY_MIN_REQUESTS') as number,
      }
      result.canary = { color: canary, rules }
    }
  }
  if (mirror !== undefined) {
    if (has(mirror)) result.mirror = { color: mirror, percent: own('MIRROR_PERCENT') as number }
    else
      problems.push({
        variable: `${prefix}MIRROR`,
        message: unserved(mirror),
      })
  }
  return result
}

/** What the colors' variables say: the colors with an upstream, and what is worth a warning. */
interface ColorsRead {
  colors: ColorConfig[]
  /** Some color's upstream variable is set (even to a bad value). */
  anyUpstream: boolean
}

function readColors(
  prefix: string,
  colors: readonly string[],
  reader: Reader,
  warnings: string[],
): ColorsRead {
  const result: ColorsRead = { colors: [], anyUpstream: false }
  const weightEntry = prefix === '' ? COLOR_WEIGHT : (pattern('<SITE>_<COLOR>_WEIGHT') as typeof COLOR_WEIGHT)
  const urlEntry = prefix === '' ? COLOR_URL : (pattern('<SITE>_<COLOR>') as typeof COLOR_URL)
  for (const name of colors) {
    const variable = `${prefix}${colorVariable(name)}`
    const weightVariable = `${variable}_WEIGHT`
    const rawUrl = reader.text(variable)
    const rawWeight = reader.text(weightVariable)
    const weight = reader.value(weightVariable, weightEntry, rawWeight)
    if (rawUrl === undefined) {
      if (rawWeight !== undefined) {
        warnings.push(`${weightVariable} is set but ${variable} is not: ${name} gets no traffic`)
      }
      continue
    }
    result.anyUpstream = true
    // An upstream URL may carry credentials: the table marks it secret, so it is never shown.
    const upstream = reader.value(variable, urlEntry, rawUrl)
    if (upstream && weight !== undefined) result.colors.push({ name, variable, upstream, weight })
  }
  return result
}

/** At least one color has an upstream, and at least one of those takes traffic. */
function checkColors(
  colors: readonly string[],
  read: ColorsRead,
  prefix: string,
  problems: ConfigProblem[],
): void {
  const variables = colors.map((color) => `${prefix}${colorVariable(color)}`)
  if (!read.anyUpstream) {
    problems.push({
      variable: variables.join(', '),
      message: `no color has an upstream: set at least one, e.g. ${variables[0]}=http://myapp-v1:8080`,
    })
  } else if (read.colors.length > 0 && read.colors.every((color) => color.weight === 0)) {
    problems.push({
      variable: read.colors.map((color) => `${color.variable}_WEIGHT`).join(', '),
      message: 'every color with an upstream has weight 0: give at least one a weight above 0',
    })
  }
}

/** Color names whose variables would collide with colorproxy's own (`port` → PORT, `hosts` → SHOP_HOSTS). */
function checkColorNames(
  prefix: string,
  listVariable: string,
  colors: readonly string[],
  problems: ConfigProblem[],
): void {
  const taken = new Set(
    prefix === '' ? FIXED_NAMES : [...SITE_SETTINGS.keys()].map((suffix) => `${prefix}${suffix}`),
  )
  for (const color of colors) {
    const variable = `${prefix}${colorVariable(color)}`
    if (taken.has(variable) || taken.has(`${variable}_WEIGHT`) || variable.endsWith('_FILE')) {
      problems.push({
        variable: listVariable,
        message: `${color} clashes with colorproxy's own variable ${variable}`,
      })
    }
  }
}

/**
 * A site's prefix must not read as anything else's: a color (`BLUE_`), colorproxy's own variables
 * (`TIMEOUT_` → TIMEOUT_CONNECT), or another site's (`SHOP_` and `SHOP_EU_`).
 */
function checkSiteNames(
  names: readonly string[],
  values: Partial<Values>,
  reader: Reader,
  problems: ConfigProblem[],
): void {
  const colorNames = new Set(values.COLORS ?? [])
  for (const name of names) {
    const own = reader.text(`${colorVariable(name)}_COLORS`)
    for (const color of own?.split(',') ?? []) colorNames.add(color.trim())
  }
  for (const name of names) {
    const clash = siteClash(name, names, colorNames)
    if (clash !== undefined) problems.push({ variable: 'SITES', message: `the site ${name} ${clash}` })
  }
}

function siteClash(
  name: string,
  names: readonly string[],
  colorNames: ReadonlySet<string>,
): string | undefined {
  const prefix = `${colorVariable(name)}_`
  const startsWith = (other: string) => prefix.startsWith(`${colorVariable(other)}_`)
  const color = [...colorNames].find(startsWith)
  if (color !== undefined) return `clashes with the color ${color}: its variables would read as the color's`
  const fixed = FIXED_NAMES.filter((variable) => variable.startsWith(prefix) || `${variable}_` === prefix)
  if (fixed.length > 0) return `clashes with colorproxy's own variables (${fixed.join(', ')})`
  const site = names.find((other) => other !== name && startsWith(other))
  if (site !== undefined) return `clashes with the site ${site}: ${prefix}… could be read as ${site}'s`
  return undefined
}

/**
 * Two sites claiming one host and path stop startup, naming both; a site that takes every host and path
 * leaves the default site nothing, which is said.
 */
function checkClaims(sites: readonly SiteConfig[], problems: ConfigProblem[], warnings: string[]): void {
  const claimed = new Map<string, SiteConfig>()
  const said = new Set<string>()
  const variables = (site: SiteConfig) =>
    site.hosts === undefined ? `${site.prefix}PATHS` : `${site.prefix}HOSTS, ${site.prefix}PATHS`
  for (const site of sites) {
    if (site.prefix === '') continue
    for (const host of site.hosts ?? ['(any host)']) {
      for (const path of site.paths) {
        const key = `${host} ${path}`
        const other = claimed.get(key)
        if (other === undefined) claimed.set(key, site)
        else if (!said.has(`${other.name} ${site.name}`)) {
          said.add(`${other.name} ${site.name}`)
          problems.push({
            variable: `${variables(other)}, ${variables(site)}`,
            message: `the sites ${other.name} and ${site.name} both claim ${host} ${path}: give each its own host or path`,
          })
        }
      }
    }
  }
  const everything = claimed.get('(any host) /')
  if (everything && sites[0]?.prefix === '') {
    warnings.push(
      `the site ${everything.name} answers every host and path: the default site (the unprefixed colors) gets no traffic`,
    )
  }
}
