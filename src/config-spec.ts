// THE table of colorproxy's variables: name, group, type, default (as text, parsed by the same parser as a
// value someone sets) and meaning. config.ts takes its defaults from here; `colorproxy --help` and the
// README's configuration table (npm run docs) are printed from it, so the three never disagree.
//
// Text in backticks is Markdown code in the README and plain text in --help.

export const GROUPS = [
  'Colors',
  'Listening and headers',
  'Timeouts',
  'Upstream connections',
  'Shutdown',
  'Logging and config sources',
  'Canary controls',
  'Admin and processes',
] as const

export interface VariableSpec {
  /** `PORT`, or a pattern: `<COLOR>`, `<COLOR>_WEIGHT`, `<VAR>_FILE`. */
  name: string
  /** Names shown in place of the pattern: `BLUE`, `GREEN`. */
  example?: string
  group: (typeof GROUPS)[number]
  type: string
  /** The default as someone would write it; undefined: unset. */
  default?: string
  /** Said for an unset value with no default (`off`). */
  unset?: string
  meaning: string
}

const DURATION = 'duration'

export const VARIABLES: readonly VariableSpec[] = [
  {
    name: 'COLORS',
    group: 'Colors',
    type: 'comma list of `[a-z][a-z0-9-]*`',
    default: 'blue,green',
    meaning:
      "The colors that exist. A color's variables are its name upper-cased with `-` → `_` (`canary-2` → `CANARY_2`).",
  },
  {
    name: '<COLOR>',
    example: '`BLUE`, `GREEN`',
    group: 'Colors',
    type: '`http(s)://host[:port][/base]`',
    meaning:
      "That color's upstream. Unset: the color gets no traffic. Credentials in the URL (`http://user:pass@host`) are sent as basic auth and never shown.",
  },
  {
    name: '<COLOR>_WEIGHT',
    example: '`BLUE_WEIGHT`',
    group: 'Colors',
    type: 'whole number 0 – 1000000',
    default: '1',
    meaning:
      'Share of new traffic. `0` drains the color. A weight whose color has no upstream is ignored with a warning.',
  },
  {
    name: 'PORT',
    group: 'Listening and headers',
    type: 'port 0 – 65535',
    default: '8080',
    meaning: 'Traffic listener port (`0`: any free port).',
  },
  {
    name: 'HOST',
    group: 'Listening and headers',
    type: 'address',
    default: '0.0.0.0',
    meaning: 'Traffic listener address.',
  },
  {
    name: 'COLOR_HEADER',
    group: 'Listening and headers',
    type: 'header name',
    default: 'Color',
    meaning:
      'Request header set to the chosen color on every forwarded request; a client-sent value is replaced.',
  },
  {
    name: 'PRESERVE_HOST',
    group: 'Listening and headers',
    type: 'boolean',
    default: 'true',
    meaning:
      "Forward the client's `Host`. `false` sends the upstream's `host:port` (the client's goes in `X-Forwarded-Host`).",
  },
  {
    name: 'TRUSTED_PROXIES',
    group: 'Listening and headers',
    type: 'comma list of addresses and CIDRs',
    unset: 'none',
    meaning:
      'Peers (a load balancer in front, e.g. `10.0.0.0/8,::1`) whose `X-Forwarded-For`, `-Host`, `-Proto` and `-Port` are kept and appended to, and whose `X-Forwarded-For` names the client (for `STICKY=ip` and the access log). From any other peer those headers are replaced, and `X-Forwarded-For` starts with the peer address.',
  },
  {
    name: 'TIMEOUT_CONNECT',
    group: 'Timeouts',
    type: DURATION,
    default: '5s',
    meaning: 'Upstream TCP (and TLS) connect; then 504.',
  },
  {
    name: 'TIMEOUT_SERVER',
    group: 'Timeouts',
    type: DURATION,
    default: '60s',
    meaning: 'Upstream response headers, from the moment the request is sent; then 504.',
  },
  {
    name: 'TIMEOUT_SERVER_IDLE',
    group: 'Timeouts',
    type: DURATION,
    default: '60s',
    meaning:
      "No byte from the upstream for this long while its answer's body streams: the answer is cut (logged `server_idle_timeout`, counted as a 504 against the color).",
  },
  {
    name: 'TIMEOUT_CLIENT',
    group: 'Timeouts',
    type: DURATION,
    default: '60s',
    meaning: 'Client request headers and body; then 408 and the connection is closed.',
  },
  {
    name: 'TIMEOUT_HTTP_KEEP_ALIVE',
    group: 'Timeouts',
    type: DURATION,
    default: '15s',
    meaning: 'An idle client keep-alive connection is closed.',
  },
  {
    name: 'TIMEOUT_TUNNEL',
    group: 'Timeouts',
    type: DURATION,
    default: '3600s',
    meaning: 'An idle WebSocket (no data either way) is closed.',
  },
  {
    name: 'UPSTREAM_MAX_SOCKET_AGE',
    group: 'Upstream connections',
    type: DURATION,
    default: '30s',
    meaning:
      "Each upstream address's connection pool is replaced once this old (its requests in flight finish first), so a Swarm VIP spreads new connections over tasks.",
  },
  {
    name: 'UPSTREAM_RESOLVE_EVERY',
    group: 'Upstream connections',
    type: DURATION,
    default: '5s',
    meaning: 'How often an upstream host name is resolved again.',
  },
  {
    name: 'SHUTDOWN_DELAY',
    group: 'Shutdown',
    type: DURATION,
    default: '2s',
    meaning: 'After SIGTERM: `/readyz` is 503 and traffic is still served for this long.',
  },
  {
    name: 'SHUTDOWN_TIMEOUT',
    group: 'Shutdown',
    type: DURATION,
    default: '7s',
    meaning: 'Then the wait for in-flight requests before their connections are closed.',
  },
  {
    name: 'LOG_LEVEL',
    group: 'Logging and config sources',
    type: '`fatal` `error` `warn` `info` `debug` `trace` `silent`',
    default: 'info',
    meaning: 'Log level.',
  },
  {
    name: 'LOG_FORMAT',
    group: 'Logging and config sources',
    type: '`json`, `pretty`',
    default: 'json',
    meaning: '`pretty` prints coloured lines for people.',
  },
  {
    name: 'ENV_FILE',
    group: 'Logging and config sources',
    type: 'path',
    default: '.env',
    meaning:
      'A dotenv file loaded if present (an `ENV_FILE` you name must exist); the real environment always wins.',
  },
  {
    name: '<VAR>_FILE',
    example: '`GREEN_FILE`',
    group: 'Logging and config sources',
    type: 'path',
    meaning:
      "Read any of colorproxy's variables from a file (Docker secrets); a trailing newline is trimmed. Setting both `<VAR>` and `<VAR>_FILE` is an error. Other `*_FILE` variables (`SSL_CERT_FILE`, `TF_CLI_CONFIG_FILE`, ...) are not colorproxy's and are ignored.",
  },
  {
    name: 'STICKY',
    group: 'Canary controls',
    type: '`off`, `cookie`, `ip`, `header:<Name>`',
    default: 'off',
    meaning:
      "Keep a client on one color. `cookie`: a client without the cookie gets a weighted pick and a cookie naming it, and keeps that color while it has an upstream, even at weight 0. `ip` (the client address: the peer, or what `TRUSTED_PROXIES` say) or `header:X-User-Id`: weighted rendezvous hashing of that value, identical on every replica with no shared state; raising a color's weight only moves clients toward it. No value: a weighted pick.",
  },
  {
    name: 'STICKY_COOKIE',
    group: 'Canary controls',
    type: 'cookie name',
    default: 'colorproxy',
    meaning: 'The cookie for `STICKY=cookie` (`HttpOnly; SameSite=Lax; Path=/`).',
  },
  {
    name: 'STICKY_TTL',
    group: 'Canary controls',
    type: DURATION,
    default: '24h',
    meaning: "The cookie's `Max-Age`.",
  },
  {
    name: 'OVERRIDE_HEADER',
    group: 'Canary controls',
    type: 'header name',
    unset: 'off',
    meaning:
      'e.g. `X-Color`: a request with that header, or a cookie of that name, naming a configured color goes to that color, even at weight 0 (QA before any traffic moves). An unknown color name is ignored.',
  },
  {
    name: 'FAILOVER',
    group: 'Canary controls',
    type: 'boolean',
    default: 'true',
    meaning:
      'When the upstream cannot be reached (refused, DNS, unreachable, connect timeout) for a request without a body, send it once to another color with weight above 0.',
  },
  {
    name: 'EJECT_AFTER',
    group: 'Canary controls',
    type: 'whole number 0 – 1000',
    default: '5',
    meaning:
      'Consecutive connect failures that take a color out of the split (logged once, counted in `/metrics`); `0` never ejects. The last color that can take traffic is never ejected.',
  },
  {
    name: 'EJECT_FOR',
    group: 'Canary controls',
    type: DURATION,
    default: '10s',
    meaning: 'How long an ejected color stays out; then it is tried again.',
  },
  {
    name: 'ADMIN_PORT',
    group: 'Admin and processes',
    type: 'port 0 – 65535',
    default: '8081',
    meaning:
      'Admin listener port (health, readiness, config, metrics, stats page); never proxied. Must differ from `PORT`.',
  },
  {
    name: 'ADMIN_HOST',
    group: 'Admin and processes',
    type: 'address',
    default: '0.0.0.0',
    meaning:
      'Admin listener address. The default answers on every interface, without auth: set `127.0.0.1` or `STATS_USER`/`STATS_PASS` where the network is not yours (README "Security notes").',
  },
  {
    name: 'STATS_USER',
    group: 'Admin and processes',
    type: 'text',
    meaning:
      'With `STATS_PASS`: basic auth (constant-time compare) on every admin path except `/healthz` and `/readyz`.',
  },
  {
    name: 'STATS_PASS',
    group: 'Admin and processes',
    type: 'text (secret)',
    meaning:
      'The password for `STATS_USER`: never shown or logged; `STATS_PASS_FILE` reads it from a Docker secret.',
  },
  {
    name: 'WORKERS',
    group: 'Admin and processes',
    type: '`auto` or whole number 1 – 64',
    default: '1',
    meaning:
      'Processes serving traffic. Above 1, a node:cluster primary runs that many workers on the one port and owns the admin listener: `/readyz` is 200 only while every worker listens, `/metrics` sums the workers (weights and ejection are not summed), the stats page merges them, and SIGTERM drains them all. A worker that dies is replaced. `auto`: one per available core.',
  },
]

/** Every variable with a default: `{ PORT: '8080', '<COLOR>_WEIGHT': '1', ... }`. */
export const DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  VARIABLES.filter((spec) => spec.default !== undefined).map((spec) => [spec.name, spec.default as string]),
)

/** The variables with a fixed name (not a pattern). */
export const FIXED_NAMES: readonly string[] = VARIABLES.filter((spec) => !spec.name.includes('<')).map(
  (spec) => spec.name,
)

/** `colorproxy --help`: every variable, grouped, with type and default. */
export function usage(version: string): string {
  const plain = (text: string) => text.replaceAll('`', '')
  const lines = [
    `colorproxy ${version}: an edge proxy for blue/green and canary releases, configured by environment variables.`,
    '',
    'Usage: colorproxy            (read the environment and serve)',
    '       colorproxy --help     (this text)',
    '       colorproxy --version',
    '',
    'Every setting is an environment variable, read once at startup; <VAR>_FILE reads one from a file.',
    'Durations are seconds (5) or take a unit (500ms, 10s, 2m, 1h). A bad value exits 78 before listening.',
  ]
  for (const group of GROUPS) {
    lines.push('', `${group}:`)
    for (const spec of VARIABLES.filter((entry) => entry.group === group)) {
      const fallback = spec.default === undefined ? (spec.unset ?? 'unset') : spec.default
      lines.push(
        `  ${spec.name}  ${plain(spec.type)}  (default: ${fallback})`,
        `      ${plain(spec.meaning)}`,
      )
    }
  }
  return `${lines.join('\n')}\n`
}

/** The README's configuration table, as Markdown rows (npm run docs writes it; a test compares). */
export function markdownTable(): string {
  const rows = VARIABLES.map((spec) => {
    const name = `\`${spec.name}\`${spec.example ? ` e.g. ${spec.example}` : ''}`
    const fallback =
      spec.default === undefined ? (spec.unset ? `unset (${spec.unset})` : 'unset') : `\`${spec.default}\``
    return `| ${name} | ${spec.type} | ${fallback} | ${spec.meaning} |`
  })
  return ['| Variable | Type | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n')
}
