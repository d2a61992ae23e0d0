// THE table of colorproxy's variables: name, group, type, default (as text, parsed by the same parser as a
// value someone sets) and meaning. load.ts takes its defaults from here; `colorproxy --help` and the
// README's configuration table (npm run docs) are printed from it, so the three never disagree.
//
// Text in backticks is Markdown code in the README and plain text in --help.

import { LOG_FORMATS, LOG_LEVELS, parseDuration, parsePort } from '../../lib/values.js'
import {
  parseBoolean,
  parseCanarySteps,
  parseColorName,
  parsePercent,
  parseCertificatePem,
  parseChoice,
  parseColorList,
  parseCookieName,
  parseCount,
  parseHeaderName,
  parseKeyPem,
  parseListenHost,
  parseHealthPath,
  parsePublicPort,
  parseRateKey,
  parseRealm,
  parseSeconds,
  parseSiteHosts,
  parseSiteList,
  parseSitePaths,
  parseSticky,
  parseTrustedProxies,
  parseUpstreamUrl,
  parseWeight,
  parseWorkers,
} from './validators.js'
import { parseUsers } from './users.js'
import {
  parseAcmeNames,
  parseAcmeStore,
  parseDirectoryUrl,
  parseEabKey,
  parseEmail,
  parseRenewBefore,
} from './acme-values.js'
import { parseFleetName, parseRedisUrl } from './redis-url.js'

export const GROUPS = [
  'Colors',
  'Listening and headers',
  'Timeouts',
  'Upstream connections',
  'Shutdown',
  'Logging and config sources',
  'Canary controls',
  'TLS and HTTP/2',
  'Automatic HTTPS (ACME)',
  'Redirects and basic auth',
  'Sites',
  'Progressive delivery',
  'Limits',
  'The fleet',
  'Admin and processes',
] as const

export interface VariableSpec<T = unknown> {
  /** `PORT`, or a pattern: `<COLOR>`, `<COLOR>_WEIGHT`, `<VAR>_FILE`. */
  name: string
  /** Names shown in place of the pattern: `BLUE`, `GREEN`. */
  example?: string
  group: (typeof GROUPS)[number]
  type: string
  /** The default as someone would write it; undefined: unset. Read by `parse` like a value someone sets. */
  default?: string
  /** Said for an unset value with no default (`off`). */
  unset?: string
  meaning: string
  /** The value, or an Error whose message says what is expected (never the value itself). */
  parse: (input: string) => T
  /** Never quoted in a problem line: it may hold credentials. */
  secret?: boolean
  /** A site sets its own as `<SITE>_NAME` (read by this parser); unset, the site takes this one. */
  perSite?: true
}

/** Keeps each entry's own types (its name, its parser's result, whether it has a default). */
const spec = <const S extends VariableSpec<unknown>>(entry: S): S => entry

const DURATION = 'duration'
const text = (input: string): string => input
const duration = (input: string): number => parseDuration(input, { min: 1 })
const durationOrZero = (input: string): number => parseDuration(input)
const ejectAfter = (input: string): number => parseCount(input, { max: 1000 })

export const VARIABLES = [
  spec({
    name: 'COLORS',
    parse: parseColorList,
    group: 'Colors',
    type: 'comma list of `[a-z][a-z0-9-]*`',
    default: 'blue,green',
    meaning:
      "The colors that exist. A color's variables are its name upper-cased with `-` → `_` (`canary-2` → `CANARY_2`).",
  }),
  spec({
    name: '<COLOR>',
    parse: parseUpstreamUrl,
    secret: true,
    example: '`BLUE`, `GREEN`',
    group: 'Colors',
    type: '`http(s)://host[:port][/base]`',
    meaning:
      "That color's upstream. Unset: the color gets no traffic. Credentials in the URL (`http://user:pass@host`) are sent as basic auth and never shown.",
  }),
  spec({
    name: '<COLOR>_WEIGHT',
    parse: parseWeight,
    example: '`BLUE_WEIGHT`',
    group: 'Colors',
    type: 'whole number 0 – 1000000',
    default: '1',
    meaning:
      'Share of new traffic. `0` drains the color. A weight whose color has no upstream is ignored with a warning.',
  }),
  spec({
    name: 'PORT',
    parse: parsePort,
    group: 'Listening and headers',
    type: 'port 0 – 65535',
    default: '8080',
    meaning: 'Traffic listener port (`0`: any free port).',
  }),
  spec({
    name: 'HOST',
    parse: parseListenHost,
    group: 'Listening and headers',
    type: 'address',
    default: '0.0.0.0',
    meaning: 'Traffic listener address.',
  }),
  spec({
    name: 'COLOR_HEADER',
    parse: parseHeaderName,
    group: 'Listening and headers',
    type: 'header name',
    default: 'Color',
    meaning:
      'Request header set to the chosen color on every forwarded request; a client-sent value is replaced.',
  }),
  spec({
    name: 'PRESERVE_HOST',
    parse: parseBoolean,
    group: 'Listening and headers',
    type: 'boolean',
    default: 'true',
    meaning:
      "Forward the client's `Host`. `false` sends the upstream's `host:port` (the client's goes in `X-Forwarded-Host`).",
  }),
  spec({
    name: 'TRUSTED_PROXIES',
    parse: parseTrustedProxies,
    group: 'Listening and headers',
    type: 'comma list of addresses and CIDRs',
    unset: 'none',
    meaning:
      'Peers (a load balancer in front, e.g. `10.0.0.0/8,::1`) whose `X-Forwarded-For`, `-Host`, `-Proto` and `-Port` are kept and appended to, and whose `X-Forwarded-For` names the client (for `STICKY=ip` and the access log). From any other peer those headers are replaced, and `X-Forwarded-For` starts with the peer address.',
  }),
  spec({
    name: 'TIMEOUT_CONNECT',
    parse: duration,
    group: 'Timeouts',
    type: DURATION,
    default: '5s',
    meaning: 'Upstream TCP (and TLS) connect; then 504.',
  }),
  spec({
    name: 'TIMEOUT_SERVER',
    parse: duration,
    group: 'Timeouts',
    type: DURATION,
    default: '60s',
    meaning: 'Upstream response headers, from the moment the request is sent; then 504.',
  }),
  spec({
    name: 'TIMEOUT_SERVER_IDLE',
    parse: duration,
    group: 'Timeouts',
    type: DURATION,
    default: '60s',
    meaning:
      "No byte from the upstream for this long while its answer's body streams: the answer is cut (logged `server_idle_timeout`, counted as a 504 against the color).",
  }),
  spec({
    name: 'TIMEOUT_CLIENT',
    parse: duration,
    group: 'Timeouts',
    type: DURATION,
    default: '60s',
    meaning: 'Client request headers and body; then 408 and the connection is closed.',
  }),
  spec({
    name: 'TIMEOUT_HTTP_KEEP_ALIVE',
    parse: duration,
    group: 'Timeouts',
    type: DURATION,
    default: '15s',
    meaning: 'An idle client keep-alive connection is closed.',
  }),
  spec({
    name: 'TIMEOUT_TUNNEL',
    parse: duration,
    group: 'Timeouts',
    type: DURATION,
    default: '3600s',
    meaning: 'An idle WebSocket (no data either way) is closed.',
  }),
  spec({
    name: 'UPSTREAM_MAX_SOCKET_AGE',
    parse: duration,
    group: 'Upstream connections',
    type: DURATION,
    default: '30s',
    meaning:
      'An upstream connection is retired once this old (its request in flight finishes first), so a Swarm VIP spreads new connections over tasks. Each connection draws its own limit between half this and this, so they are retired one at a time.',
  }),
  spec({
    name: 'UPSTREAM_KEEP_ALIVE',
    parse: duration,
    group: 'Upstream connections',
    type: DURATION,
    default: '60s',
    meaning:
      "An idle upstream connection is closed after this long. Keep it below the backends' own idle timeout (nginx: 75 s); a backend's `Keep-Alive: timeout=` header, when shorter, wins.",
  }),
  spec({
    name: 'UPSTREAM_RESOLVE_EVERY',
    parse: duration,
    group: 'Upstream connections',
    type: DURATION,
    default: '5s',
    meaning: 'How often an upstream host name is resolved again.',
  }),
  spec({
    name: 'RATE_LIMIT',
    perSite: true,
    parse: (input: string) => parseCount(input, { min: 0, max: 1_000_000 }),
    group: 'Limits',
    type: 'whole number',
    default: '0',
    meaning:
      'Requests per second per client (`0`: off), a token bucket of `RATE_LIMIT_BURST` keyed by `RATE_LIMIT_BY`. Beyond it: `429` with `Retry-After`, never forwarded, never counted against a color, counted in `colorproxy_rate_limited_total{site}`. At most 100,000 client keys are remembered per site (an LRU).',
  }),
  spec({
    name: 'RATE_LIMIT_BURST',
    perSite: true,
    parse: (input: string) => parseCount(input, { min: 1, max: 1_000_000 }),
    group: 'Limits',
    type: 'whole number',
    unset: '2 × `RATE_LIMIT`',
    meaning: 'Requests a client may send at once before the rate applies.',
  }),
  spec({
    name: 'RATE_LIMIT_BY',
    perSite: true,
    parse: parseRateKey,
    group: 'Limits',
    type: '`ip`, `header:<Name>`',
    default: 'ip',
    meaning:
      '`ip`: the client address (after `TRUSTED_PROXIES` and `PROXY_PROTOCOL`); `header:X-Api-Key`: that header, and the address for a request without it.',
  }),
  spec({
    name: 'MAX_CONNECTIONS_PER_CLIENT',
    parse: (input: string) => parseCount(input, { min: 0, max: 1_000_000 }),
    group: 'Limits',
    type: 'whole number',
    default: '0',
    meaning:
      'Open client connections per client address (`0`: off), on each listener; a connection beyond it is closed at accept and counted in `colorproxy_client_connections_refused_total{reason="per_client_limit"}` (nginx `limit_conn`). The address is the peer, or what its PROXY header says.',
  }),
  spec({
    name: 'PROXY_PROTOCOL',
    parse: parseBoolean,
    group: 'Limits',
    type: 'boolean',
    default: 'false',
    meaning:
      "`true`: connections from `TRUSTED_PROXIES` peers must begin with a PROXY protocol v1 or v2 header (HAProxy's spec), whose source address becomes the client address for limits, `STICKY=ip`, `X-Forwarded-For` and the log. From other peers a PROXY header is refused (connection closed). Behind the Swarm mesh the peer address is the mesh's, so per-client limits need this or `mode: host` ports. Needs `TRUSTED_PROXIES`.",
  }),
  spec({
    name: 'HEALTH_CHECK_PATH',
    perSite: true,
    parse: parseHealthPath,
    group: 'Limits',
    type: 'path',
    unset: 'passive ejection only',
    meaning:
      "e.g. `/healthz`: every `HEALTH_CHECK_INTERVAL` each address of each color (every task behind `tasks.<service>`) gets `GET <path>` on a connection of its own; a status below 400 passes. `HEALTH_CHECK_FAILS` failures in a row take that address out of its color's rotation, `HEALTH_CHECK_PASSES` passes bring it back; a color with no healthy address leaves the split as an ejected color does. Logged, and in `colorproxy_upstream_healthy{site,color,address}`.",
  }),
  spec({
    name: 'HEALTH_CHECK_INTERVAL',
    parse: duration,
    group: 'Limits',
    type: DURATION,
    default: '5s',
    meaning: 'Time between two checks of an address.',
  }),
  spec({
    name: 'HEALTH_CHECK_TIMEOUT',
    parse: duration,
    group: 'Limits',
    type: DURATION,
    default: '2s',
    meaning: 'A check with no answer within this long fails.',
  }),
  spec({
    name: 'HEALTH_CHECK_FAILS',
    parse: (input: string) => parseCount(input, { min: 1, max: 1000 }),
    group: 'Limits',
    type: 'whole number',
    default: '3',
    meaning: 'Failed checks in a row that take an address out of rotation.',
  }),
  spec({
    name: 'HEALTH_CHECK_PASSES',
    parse: (input: string) => parseCount(input, { min: 1, max: 1000 }),
    group: 'Limits',
    type: 'whole number',
    default: '2',
    meaning: 'Passed checks in a row that bring it back.',
  }),
  spec({
    name: 'UPSTREAM_MAX_CONNECTIONS',
    parse: (input: string) => parseCount(input, { min: 1, max: 1_000_000 }),
    group: 'Limits',
    type: 'whole number',
    default: '1024',
    meaning:
      "Open connections to one color of one site, all its addresses together, whatever carries them (kept connections, uploads, WebSocket tunnels): Envoy's circuit-breaker default. A request that finds none free waits for one (a kept connection that finishes, or a slot).",
  }),
  spec({
    name: 'UPSTREAM_MAX_PENDING',
    parse: (input: string) => parseCount(input, { min: 0, max: 1_000_000 }),
    group: 'Limits',
    type: 'whole number',
    default: '1024',
    meaning:
      'Requests waiting for a connection to one color. Beyond it, or after `TIMEOUT_QUEUE`, the proxy answers `503` at once (`upstream_overloaded`), counted against the color and in `colorproxy_upstream_overflow_total{site,color}`.',
  }),
  spec({
    name: 'TIMEOUT_QUEUE',
    parse: duration,
    group: 'Limits',
    type: DURATION,
    default: '5s',
    meaning:
      'The longest a request waits for an upstream connection (`UPSTREAM_MAX_CONNECTIONS`), then `503`.',
  }),
  spec({
    name: 'UPSTREAM_CA',
    parse: parseCertificatePem,
    secret: true,
    group: 'Upstream connections',
    type: 'PEM',
    unset: "Node's bundle only",
    meaning:
      "CA certificates trusted for `https://` upstreams, in addition to Node's bundle (`UPSTREAM_CA_FILE=/run/secrets/ca.pem`).",
  }),
  spec({
    name: 'UPSTREAM_TLS_VERIFY',
    parse: parseBoolean,
    group: 'Upstream connections',
    type: 'boolean',
    default: 'true',
    meaning: '`false` accepts any upstream certificate (a warning at startup says so).',
  }),
  spec({
    name: 'SHUTDOWN_DELAY',
    parse: durationOrZero,
    group: 'Shutdown',
    type: DURATION,
    default: '2s',
    meaning: 'After SIGTERM: `/readyz` is 503 and traffic is still served for this long.',
  }),
  spec({
    name: 'SHUTDOWN_TIMEOUT',
    parse: durationOrZero,
    group: 'Shutdown',
    type: DURATION,
    default: '7s',
    meaning: 'Then the wait for in-flight requests before their connections are closed.',
  }),
  spec({
    name: 'LOG_LEVEL',
    parse: parseChoice(LOG_LEVELS),
    group: 'Logging and config sources',
    type: '`fatal` `error` `warn` `info` `debug` `trace` `silent`',
    default: 'info',
    meaning: 'Log level.',
  }),
  spec({
    name: 'LOG_FORMAT',
    parse: parseChoice(LOG_FORMATS),
    group: 'Logging and config sources',
    type: '`json`, `pretty`',
    default: 'json',
    meaning: '`pretty` prints coloured lines for people.',
  }),
  spec({
    name: 'ENV_FILE',
    parse: text,
    group: 'Logging and config sources',
    type: 'path',
    default: '.env',
    meaning:
      'A dotenv file loaded if present (an `ENV_FILE` you name must exist); the real environment always wins.',
  }),
  spec({
    name: '<VAR>_FILE',
    parse: text,
    example: '`GREEN_FILE`',
    group: 'Logging and config sources',
    type: 'path',
    meaning:
      "Read any of colorproxy's variables from a file (Docker secrets); a trailing newline is trimmed. Setting both `<VAR>` and `<VAR>_FILE` is an error. Other `*_FILE` variables (`SSL_CERT_FILE`, `TF_CLI_CONFIG_FILE`, ...) are not colorproxy's and are ignored.",
  }),
  spec({
    name: 'STICKY',
    parse: parseSticky,
    group: 'Canary controls',
    type: '`off`, `cookie`, `ip`, `header:<Name>`',
    default: 'off',
    meaning:
      "Keep a client on one color. `cookie`: a client without the cookie gets a weighted pick and a cookie naming it, and keeps that color while it has an upstream, even at weight 0. `ip` (the client address: the peer, or what `TRUSTED_PROXIES` say) or `header:X-User-Id`: weighted rendezvous hashing of that value, identical on every replica with no shared state; raising a color's weight only moves clients toward it. No value: a weighted pick.",
  }),
  spec({
    name: 'STICKY_COOKIE',
    parse: parseCookieName,
    group: 'Canary controls',
    type: 'cookie name',
    default: 'colorproxy',
    meaning: 'The cookie for `STICKY=cookie` (`HttpOnly; SameSite=Lax; Path=/`).',
  }),
  spec({
    name: 'STICKY_TTL',
    parse: duration,
    group: 'Canary controls',
    type: DURATION,
    default: '24h',
    meaning: "The cookie's `Max-Age`.",
  }),
  spec({
    name: 'OVERRIDE_HEADER',
    parse: parseHeaderName,
    group: 'Canary controls',
    type: 'header name',
    unset: 'off',
    meaning:
      'e.g. `X-Color`: a request with that header, or a cookie of that name, naming a configured color goes to that color, even at weight 0 (QA before any traffic moves). An unknown color name is ignored.',
  }),
  spec({
    name: 'FAILOVER',
    parse: parseBoolean,
    group: 'Canary controls',
    type: 'boolean',
    default: 'true',
    meaning:
      'When the upstream cannot be reached (refused, DNS, unreachable, connect timeout) for a request without a body, send it once to another color with weight above 0.',
  }),
  spec({
    name: 'EJECT_AFTER',
    parse: ejectAfter,
    group: 'Canary controls',
    type: 'whole number 0 – 1000',
    default: '5',
    meaning:
      'Consecutive connect failures that take a color out of the split (logged once, counted in `/metrics`); `0` never ejects. The last color that can take traffic is never ejected.',
  }),
  spec({
    name: 'EJECT_FOR',
    parse: duration,
    group: 'Canary controls',
    type: DURATION,
    default: '10s',
    meaning: 'How long an ejected color stays out; then it is tried again.',
  }),
  spec({
    name: 'TLS_CERT',
    parse: parseCertificatePem,
    secret: true,
    group: 'TLS and HTTP/2',
    type: 'PEM',
    unset: 'no TLS',
    meaning:
      'The certificate chain (leaf first) the TLS listener serves, usually `TLS_CERT_FILE=/run/secrets/site.crt` (a Docker secret). Set with `TLS_KEY`. With `TLS_CERT` or `TLS_CERTS_DIR`, `HTTPS_PORT` serves TLS; it is the certificate for a client whose name no file in `TLS_CERTS_DIR` has.',
  }),
  spec({
    name: 'TLS_KEY',
    parse: parseKeyPem,
    secret: true,
    group: 'TLS and HTTP/2',
    type: 'PEM (secret)',
    meaning:
      "`TLS_CERT`'s private key, usually `TLS_KEY_FILE=/run/secrets/site.key`. A key that does not match its certificate stops startup (exit 78).",
  }),
  spec({
    name: 'TLS_CERTS_DIR',
    parse: text,
    group: 'TLS and HTTP/2',
    type: 'path',
    unset: 'none',
    meaning:
      'A folder of PEM files, each a certificate chain and its key (the HAProxy convention; Docker secrets mounted under one folder). Each connection gets the certificate whose own names (subject alternative names, `*.` wildcards one label deep) match its SNI; no match: `TLS_CERT`, else the first file by name. A file that does not read, or whose key does not match, stops startup (exit 78); an expired certificate is a warning.',
  }),
  spec({
    name: 'TLS_RELOAD_EVERY',
    parse: duration,
    group: 'TLS and HTTP/2',
    type: DURATION,
    default: '1m',
    meaning:
      '`TLS_CERTS_DIR` is read again this often: a renewed or added certificate serves new connections without a restart; a file that does not read is logged and its last good certificate kept.',
  }),
  spec({
    name: 'HTTPS_PORT',
    parse: parsePort,
    group: 'TLS and HTTP/2',
    type: 'port 0 – 65535',
    default: '8443',
    meaning: 'TLS listener port: HTTP/1.1 and HTTP/2 on one port, chosen by ALPN. Only with a certificate.',
  }),
  spec({
    name: 'HTTPS_HOST',
    parse: parseListenHost,
    group: 'TLS and HTTP/2',
    type: 'address',
    unset: '`HOST`',
    meaning: 'TLS listener address.',
  }),
  spec({
    name: 'HTTP2',
    parse: parseBoolean,
    group: 'TLS and HTTP/2',
    type: 'boolean',
    default: 'true',
    meaning:
      'Offer `h2` in ALPN. HTTP/2 requests go to the upstream as HTTP/1.1 through the same pools, with the same color and `X-Forwarded-*` headers (`X-Forwarded-Proto: https`).',
  }),
  spec({
    name: 'TLS_MIN_VERSION',
    parse: parseChoice(['TLSv1.2', 'TLSv1.3'] as const),
    group: 'TLS and HTTP/2',
    type: '`TLSv1.2`, `TLSv1.3`',
    default: 'TLSv1.2',
    meaning: 'The oldest TLS version the listener accepts.',
  }),
  spec({
    name: 'HSTS',
    parse: parseSeconds,
    group: 'TLS and HTTP/2',
    type: 'seconds',
    unset: 'off',
    meaning:
      'e.g. `31536000`: `Strict-Transport-Security: max-age=<n>` on every HTTPS answer that has none from the upstream (never on plain HTTP).',
  }),
  spec({
    name: 'ACME',
    parse: parseBoolean,
    group: 'Automatic HTTPS (ACME)',
    type: 'boolean',
    default: 'false',
    meaning:
      "`true`: certificates from an ACME CA (Let's Encrypt by default) for `ACME_DOMAINS` and every exact name in the sites' `_HOSTS`, ordered at startup, renewed `ACME_RENEW_BEFORE` their end, and served on `HTTPS_PORT` beside `TLS_CERT` and `TLS_CERTS_DIR` (a certificate from those wins for its names). A name that cannot be ordered is logged with the CA's reason and retried with backoff; every other name goes on.",
  }),
  spec({
    name: 'ACME_DOMAINS',
    parse: parseAcmeNames,
    group: 'Automatic HTTPS (ACME)',
    type: 'comma list of host names',
    unset: "the sites' hosts only",
    meaning:
      "Names to certify besides the sites' hosts. No wildcards: HTTP-01 and TLS-ALPN-01 cannot prove them.",
  }),
  spec({
    name: 'ACME_EMAIL',
    parse: parseEmail,
    group: 'Automatic HTTPS (ACME)',
    type: 'e-mail address',
    unset: 'none',
    meaning: "The ACME account's contact, for the CA's expiry and policy mail. Required with `ACME=true`.",
  }),
  spec({
    name: 'ACME_DIRECTORY',
    parse: parseDirectoryUrl,
    group: 'Automatic HTTPS (ACME)',
    type: '`https://` URL',
    default: 'https://acme-v02.api.letsencrypt.org/directory',
    meaning:
      "The CA's directory: Let's Encrypt's production one by default; `https://acme-staging-v02.api.letsencrypt.org/directory` for trials.",
  }),
  spec({
    name: 'ACME_CA',
    parse: parseCertificatePem,
    group: 'Automatic HTTPS (ACME)',
    type: 'PEM',
    unset: "the system's CAs",
    meaning:
      "A CA to trust for the directory's own HTTPS (a private CA, or Pebble's in tests); `ACME_CA_FILE` reads it from a file.",
  }),
  spec({
    name: 'ACME_CHALLENGE',
    parse: parseChoice(['http-01', 'tls-alpn-01'] as const),
    group: 'Automatic HTTPS (ACME)',
    type: '`http-01`, `tls-alpn-01`',
    default: 'http-01',
    meaning:
      '`http-01`: the CA asks `PORT` for `/.well-known/acme-challenge/<token>` (answered also while `HTTPS_REDIRECT=true`); `tls-alpn-01`: the CA connects to `HTTPS_PORT` with the `acme-tls/1` protocol (RFC 8737), and `PORT` may stay closed to the world.',
  }),
  spec({
    name: 'ACME_STORE',
    parse: parseAcmeStore,
    group: 'Automatic HTTPS (ACME)',
    type: 'folder, or `redis://[user:pass@]host:port[/db]`',
    default: '/data/acme',
    secret: true,
    meaning:
      'Where the account key, the certificates and their keys, the challenge answers and the ordering locks live: a folder (one replica, or a volume every replica mounts; written atomically), or a Redis every replica shares (`rediss://` for TLS; keys under `<FLEET_NAME>:acme:`). Unset with `FLEET_STORE` set: that Redis. Certificates there survive restarts and are never ordered again while valid. A Redis down at startup is not an error: colorproxy serves what it has and tries again.',
  }),
  spec({
    name: 'ACME_RENEW_BEFORE',
    parse: parseRenewBefore,
    group: 'Automatic HTTPS (ACME)',
    type: 'duration with a unit (`30d`, `12h`)',
    default: '30d',
    meaning: 'A certificate is renewed when less than this is left of it.',
  }),
  spec({
    name: 'ACME_EAB_KID',
    parse: text,
    group: 'Automatic HTTPS (ACME)',
    type: 'text',
    unset: 'none',
    meaning: "External account binding's key id, for a CA that requires one (set with `ACME_EAB_HMAC_KEY`).",
  }),
  spec({
    name: 'ACME_EAB_HMAC_KEY',
    parse: parseEabKey,
    secret: true,
    group: 'Automatic HTTPS (ACME)',
    type: 'base64url (secret)',
    unset: 'none',
    meaning:
      "External account binding's HMAC key, never shown; `ACME_EAB_HMAC_KEY_FILE` reads it from a Docker secret.",
  }),
  spec({
    name: 'HTTPS_REDIRECT',
    parse: parseBoolean,
    group: 'Redirects and basic auth',
    type: 'boolean',
    default: 'false',
    meaning:
      '`true`: the plain `PORT` answers every request with `308` to `https://<host>[:<HTTPS_REDIRECT_PORT>]<path>?<query>`, except `/.well-known/acme-challenge/…` (proxied as usual) and requests a `TRUSTED_PROXIES` peer says came over HTTPS.',
  }),
  spec({
    name: 'HTTPS_REDIRECT_PORT',
    parse: parsePublicPort,
    group: 'Redirects and basic auth',
    type: 'port 1 – 65535',
    default: '443',
    meaning: 'The port written into the redirect (the published one, not `HTTPS_PORT`); `443` is left out.',
  }),
  spec({
    name: 'USERS',
    parse: parseUsers,
    secret: true,
    group: 'Redirects and basic auth',
    type: 'comma- or newline-separated `name:hash` (secret)',
    unset: 'no auth',
    meaning:
      "Basic auth on proxied traffic (both ports), in htpasswd form; `USERS_FILE=/run/secrets/users` reads an htpasswd file. Hashes: bcrypt (`htpasswd -nbB`), SHA-256/512 crypt (`mkpasswd -m sha-512`), Apache MD5 (`$apr1$`); plain text and `{SHA}` stop startup. Without valid credentials: `401` and `WWW-Authenticate`, never an upstream. The `Authorization` header is not forwarded; the access log names the `user`. Checks run off the event loop and a signed-in client's header is remembered for 5 minutes.",
  }),
  spec({
    name: 'AUTH_REALM',
    parse: parseRealm,
    group: 'Redirects and basic auth',
    type: 'text',
    default: 'colorproxy',
    meaning: 'The realm in the `401` challenge.',
  }),
  spec({
    name: 'SITES',
    parse: parseSiteList,
    group: 'Sites',
    type: 'comma list of `[a-z][a-z0-9-]*`',
    unset: 'one site',
    meaning:
      "Several services behind one edge, each with its own colors. A site's variables start with its name upper-cased, `-` → `_`, and `_` (`shop` → `SHOP_HOSTS`, `SHOP_BLUE`). The most specific host wins (exact, then the longest wildcard, then sites with no `_HOSTS`), then the longest path prefix. The unprefixed colors, when set, are the `default` site for whatever no site matches; with none, `404 no site serves this host and path`.",
  }),
  spec({
    name: '<SITE>_HOSTS',
    parse: parseSiteHosts,
    example: '`SHOP_HOSTS`',
    group: 'Sites',
    type: 'comma list of host names',
    unset: 'any host',
    meaning:
      'Exact (`shop.example.com`) or a leading wildcard (`*.example.com`: one or more labels, not `example.com` itself), matched against `Host` or `:authority` case-insensitively, port and trailing dot ignored, IDN as punycode.',
  }),
  spec({
    name: '<SITE>_PATHS',
    parse: parseSitePaths,
    example: '`API_PATHS`',
    group: 'Sites',
    type: 'comma list of paths',
    default: '/',
    meaning:
      'Path prefixes, matched by whole segments (`/api` matches `/api` and `/api/x`, never `/apix`) on the percent-decoded path with `//` merged; `%2F` is not a separator. Two sites claiming the same host and path stop startup.',
  }),
  spec({
    name: '<SITE>_STRIP_PATH',
    parse: parseBoolean,
    example: '`API_STRIP_PATH`',
    group: 'Sites',
    type: 'boolean',
    default: 'false',
    meaning:
      'Remove the matched prefix before forwarding (`/api/x?y` → `/x?y`, `/api` → `/`) and send it as `X-Forwarded-Prefix` (after the one a trusted proxy sent), so the backend can build its links.',
  }),
  spec({
    name: '<SITE>_COLORS',
    parse: parseColorList,
    example: '`SHOP_COLORS`',
    group: 'Sites',
    type: 'comma list of `[a-z][a-z0-9-]*`',
    unset: '`COLORS`',
    meaning: "The site's colors.",
  }),
  spec({
    name: '<SITE>_<COLOR>',
    parse: parseUpstreamUrl,
    secret: true,
    example: '`SHOP_BLUE`, `API_GREEN`',
    group: 'Sites',
    type: '`http(s)://host[:port][/base]`',
    meaning: "The site's upstream for that color, as `<COLOR>`. At least one with a weight above 0.",
  }),
  spec({
    name: '<SITE>_<COLOR>_WEIGHT',
    parse: parseWeight,
    example: '`API_GREEN_WEIGHT`',
    group: 'Sites',
    type: 'whole number 0 – 1000000',
    default: '1',
    meaning: "The site's share of new traffic for that color, as `<COLOR>_WEIGHT`.",
  }),
  spec({
    name: '<SITE>_STICKY',
    parse: parseSticky,
    example: '`SHOP_STICKY`',
    group: 'Sites',
    type: 'as `STICKY`',
    unset: '`STICKY`',
    meaning:
      "The site's sticky mode. Its cookie is `STICKY_COOKIE` and `-` and the site's name (`colorproxy-shop`), so two sites on one host never read each other's (a `Path` scope would not hold: sites also differ by host, and `STRIP_PATH` hides the prefix from the backend's own cookies).",
  }),
  spec({
    name: '<SITE>_OVERRIDE_HEADER',
    parse: parseHeaderName,
    example: '`SHOP_OVERRIDE_HEADER`',
    group: 'Sites',
    type: 'header name',
    unset: '`OVERRIDE_HEADER`',
    meaning: "The site's QA override header (and cookie).",
  }),
  spec({
    name: '<SITE>_FAILOVER',
    parse: parseBoolean,
    example: '`SHOP_FAILOVER`',
    group: 'Sites',
    type: 'boolean',
    unset: '`FAILOVER`',
    meaning: "Failover between the site's colors.",
  }),
  spec({
    name: '<SITE>_USERS',
    parse: parseUsers,
    secret: true,
    example: '`API_USERS`',
    group: 'Sites',
    type: 'as `USERS` (secret)',
    unset: '`USERS`',
    meaning: "The site's basic-auth users, in place of `USERS` (checked by the same worker thread).",
  }),
  spec({
    name: 'CANARY',
    perSite: true,
    parse: parseColorName,
    group: 'Progressive delivery',
    type: 'color name',
    unset: 'off',
    meaning:
      'The color being rolled out, in steps it judges itself; the other colors with a weight are the baseline and share the rest by their weights. Each replica runs the steps from its own start and judges what it saw: no shared state.',
  }),
  spec({
    name: 'CANARY_STEPS',
    perSite: true,
    parse: parseCanarySteps,
    group: 'Progressive delivery',
    type: 'comma list of whole percentages, rising',
    default: '5,25,50,100',
    meaning:
      "The canary's share of new traffic at each step. A first step `0` sends it mirrored traffic only (`MIRROR`), judged before any user sees it.",
  }),
  spec({
    name: 'CANARY_INTERVAL',
    perSite: true,
    parse: duration,
    group: 'Progressive delivery',
    type: DURATION,
    default: '1m',
    meaning: 'Time at each step; the judgement is made at the end of each interval.',
  }),
  spec({
    name: 'CANARY_MAX_ERROR_RATE',
    perSite: true,
    parse: parsePercent,
    group: 'Progressive delivery',
    type: 'percent 0 – 100',
    default: '1',
    meaning:
      "The share of the canary's answers in an interval that may be failures: a 5xx from its upstream or a 502/504 the proxy made for it (never a 4xx, a malformed request or a client that left). Above it: aborted.",
  }),
  spec({
    name: 'CANARY_MAX_P99',
    perSite: true,
    parse: duration,
    group: 'Progressive delivery',
    type: DURATION,
    default: '1s',
    meaning: "The canary's p99 latency in an interval may not exceed this; above it: aborted.",
  }),
  spec({
    name: 'CANARY_MIN_REQUESTS',
    perSite: true,
    parse: (input: string) => parseCount(input, { max: 1_000_000 }),
    group: 'Progressive delivery',
    type: 'whole number',
    default: '20',
    meaning:
      'Fewer canary answers than this in an interval: the step is held for another interval, never advanced.',
  }),
  spec({
    name: 'CANARY_ABORT_HEALTH',
    parse: parseBoolean,
    group: 'Progressive delivery',
    type: 'boolean',
    default: 'false',
    meaning:
      '`true`: after an abort, `/healthz` answers `503 canary aborted`, so a Swarm update with `--update-failure-action rollback` and an `--update-monitor` that covers the steps rolls the service back to its previous environment.',
  }),
  spec({
    name: 'MIRROR',
    perSite: true,
    parse: parseColorName,
    group: 'Progressive delivery',
    type: 'color name',
    unset: 'off',
    meaning:
      'A color that gets a copy of bodiless `GET`/`HEAD` requests, sent after the real one; its answers are read and thrown away, never reach or delay a client, and are counted in `colorproxy_mirrored_total`.',
  }),
  spec({
    name: 'MIRROR_PERCENT',
    perSite: true,
    parse: parsePercent,
    group: 'Progressive delivery',
    type: 'percent 0 – 100',
    default: '100',
    meaning: 'The share of those requests that are copied.',
  }),
  spec({
    name: 'MIRROR_MAX_IN_FLIGHT',
    parse: (input: string) => parseCount(input, { min: 1, max: 100_000 }),
    group: 'Progressive delivery',
    type: 'whole number',
    default: '100',
    meaning: 'At most this many copies at once (per process); the rest are skipped and counted.',
  }),
  spec({
    name: 'ADMIN_PORT',
    parse: parsePort,
    group: 'Admin and processes',
    type: 'port 0 – 65535',
    default: '8081',
    meaning:
      'Admin listener port (health, readiness, config, metrics, stats page); never proxied. Must differ from `PORT`.',
  }),
  spec({
    name: 'ADMIN_HOST',
    parse: parseListenHost,
    group: 'Admin and processes',
    type: 'address',
    default: '0.0.0.0',
    meaning:
      'Admin listener address. The default answers on every interface, without auth: set `127.0.0.1` or `STATS_USER`/`STATS_PASS` where the network is not yours (docs/operations.md, "Security notes").',
  }),
  spec({
    name: 'STATS_USER',
    parse: text,
    group: 'Admin and processes',
    type: 'text',
    meaning:
      'With `STATS_PASS`: basic auth (constant-time compare) on every admin path except `/healthz` and `/readyz`.',
  }),
  spec({
    name: 'STATS_PASS',
    parse: text,
    secret: true,
    group: 'Admin and processes',
    type: 'text (secret)',
    meaning:
      'The password for `STATS_USER`: never shown or logged; `STATS_PASS_FILE` reads it from a Docker secret.',
  }),
  spec({
    name: 'FLEET_STORE',
    parse: parseRedisUrl,
    secret: true,
    group: 'The fleet',
    type: '`redis://[user:pass@]host:port[/db]`',
    unset: 'every replica alone',
    meaning:
      "The Redis the replicas of one service share (`rediss://` for TLS). With it: one canary for the fleet (one replica at a time holds the controller's lease and judges every replica's figures summed; every replica applies its step within a second; a replica started later joins at the fleet's step), the fleet on `/config`, `/metrics` and the stats page, and `RATE_LIMIT_SHARED`. Never on a request's path: read and written in the background every 0.5 s. Unreachable (at startup too): each replica goes on with what it last knew, judges alone, says so once, and rejoins when it is back.",
  }),
  spec({
    name: 'FLEET_NAME',
    parse: parseFleetName,
    group: 'The fleet',
    type: '`[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 64',
    default: 'colorproxy',
    meaning:
      "The prefix of every key in `FLEET_STORE` (and of ACME's, `<FLEET_NAME>:acme:`), so several proxies can share one Redis: replicas with the same name are one fleet.",
  }),
  spec({
    name: 'RATE_LIMIT_SHARED',
    parse: parseBoolean,
    group: 'The fleet',
    type: 'boolean',
    default: 'false',
    meaning:
      "`true` (needs `FLEET_STORE`): every site's `RATE_LIMIT` is one budget per client key for the whole fleet, not per replica. Each replica keeps its own buckets (a request never waits for the store) and every 0.5 s adds what it let through to the fleet's count and takes off its buckets what the other replicas let through; a client spread over the replicas gets about one replica's budget, plus at most one sync's worth. Keys are stored hashed, at most 10,000 per replica per sync. With the store unreachable each replica limits alone.",
  }),
  spec({
    name: 'WORKERS',
    parse: parseWorkers,
    group: 'Admin and processes',
    type: '`auto` or whole number 1 – 64',
    default: '1',
    meaning:
      "Processes serving traffic. Above 1, a node:cluster primary runs that many workers on the one port and owns the admin listener. On a fixed `PORT` (and `HTTPS_PORT`) each worker binds sockets of its own (SO_REUSEPORT) and the kernel spreads new connections over them; on port 0 they share the primary's, which hands each connection on. The primary: `/readyz` is 200 only while every worker listens, `/metrics` sums the workers (weights and ejection are not summed), the stats page merges them, and SIGTERM drains them all. A worker that dies is replaced. `auto`: one per available core.",
  }),
] as const

type Entry = (typeof VARIABLES)[number]
/** A variable with a fixed name (not a pattern): `PORT`, `STICKY`. */
export type FixedName = Exclude<Entry['name'], `${string}<${string}`>
/** What a variable reads as: its parser's result, or undefined when it is unset and has no default. */
export type ValueOf<N extends Entry['name']> =
  Extract<Entry, { name: N }> extends infer S
    ? S extends { parse: (input: string) => infer T }
      ? T | (S extends { default: string } ? never : undefined)
      : never
    : never
/** Every fixed variable, read. */
export type Values = { readonly [N in FixedName]: ValueOf<N> }

/** Every variable with a default: `{ PORT: '8080', '<COLOR>_WEIGHT': '1', ... }`. */
export const DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  VARIABLES.flatMap((entry) => ('default' in entry ? [[entry.name, entry.default]] : [])),
)

/** The variables with a fixed name, in the table's order (COLORS first: the colors' names depend on it). */
export const FIXED: readonly (Entry & { name: FixedName })[] = VARIABLES.filter(
  (entry): entry is Entry & { name: FixedName } => !entry.name.includes('<'),
)
export const FIXED_NAMES: readonly string[] = FIXED.map((entry) => entry.name)

/**
 * A site's own settings by what follows its prefix (`HOSTS` for `SHOP_HOSTS`), each with the entry whose
 * parser reads it: the `<SITE>_` patterns of the table, and every entry marked `perSite`.
 */
export const SITE_SETTINGS: ReadonlyMap<string, VariableSpec> = new Map([
  ...VARIABLES.filter((entry) => entry.name.startsWith('<SITE>_') && !entry.name.includes('<COLOR>')).map(
    (entry) => [entry.name.slice('<SITE>_'.length), entry as VariableSpec] as const,
  ),
  ...VARIABLES.filter((entry) => 'perSite' in entry).map(
    (entry) => [entry.name, entry as VariableSpec] as const,
  ),
])

/** The settings only a site has, with no global twin: `HOSTS`, `PATHS`, `STRIP_PATH`. */
export const SITE_ONLY: readonly string[] = [...SITE_SETTINGS.keys()].filter(
  (name) => !FIXED_NAMES.includes(name),
)

/** The pattern entries, by name: `<COLOR>`, `<COLOR>_WEIGHT`. */
export const COLOR_URL = VARIABLES.find((entry) => entry.name === '<COLOR>') as Extract<
  Entry,
  { name: '<COLOR>' }
>
export const COLOR_WEIGHT = VARIABLES.find((entry) => entry.name === '<COLOR>_WEIGHT') as Extract<
  Entry,
  { name: '<COLOR>_WEIGHT' }
>

/** A pattern entry by its name: `<SITE>_HOSTS`. */
export function pattern(name: string): VariableSpec {
  return VARIABLES.find((entry) => entry.name === name) as VariableSpec
}

/** The table seen as plain entries, for the docs. */
const TABLE: readonly VariableSpec[] = VARIABLES

/** Markdown as a terminal shows it: no backticks, bold or link syntax (a link keeps its text). */
export function plainText(text: string): string {
  return text
    .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
    .replace(/\*\*([^*]+)\*\*/g, '$1')
    .replaceAll('`', '')
}

/** Words wrapped at `width` columns, every line after the first indented like it. */
export function wrap(text: string, indent: string, width = 100): string[] {
  const lines: string[] = []
  let line = indent
  for (const word of text.split(/\s+/).filter((one) => one !== '')) {
    if (line.length > indent.length && line.length + 1 + word.length > width) {
      lines.push(line)
      line = indent
    }
    line += line.length > indent.length ? ` ${word}` : word
  }
  if (line.length > indent.length) lines.push(line)
  return lines
}

const HELP_TAIL = [
  '',
  'Admin listener (ADMIN_PORT; STATS_USER/STATS_PASS guard all but the probes):',
  '  /             the stats page, live',
  '  /stats.json   the same figures as JSON',
  '  /metrics      Prometheus metrics',
  '  /config       the configuration in effect, secrets left out',
  '  /healthz      liveness: 200 ok (503 after a canary abort with CANARY_ABORT_HEALTH)',
  '  /readyz       readiness: 200 ready, 503 while shutting down',
  '',
  'Exit codes:',
  '  0   after a graceful stop (SIGTERM or SIGINT)',
  '  1   any other startup failure, with a one-line reason',
  '  64  an unknown command-line argument',
  '  78  a bad environment (EX_CONFIG), every bad variable named, before listening',
  '',
  'The documentation: README.md, and docs/configuration.md for this table with every detail.',
]

/** An entry's meaning, and for one a site can set its own, the name that does. */
const meaningOf = (variable: VariableSpec): string =>
  variable.perSite ? `${variable.meaning} Per site: \`<SITE>_${variable.name}\`.` : variable.meaning

/** `colorproxy --help`: every variable, grouped, with type and default; the admin endpoints; exit codes. */
export function usage(version: string): string {
  const lines = [
    `colorproxy ${version}: an edge proxy for blue/green and canary releases, configured by environment`,
    'variables.',
    '',
    'Usage: colorproxy            (read the environment and serve)',
    '       colorproxy --help     (this text)',
    '       colorproxy --version',
    '',
    'Every setting is an environment variable, read once at startup; <VAR>_FILE reads one from a file.',
    'Durations are seconds (5) or take a unit (500ms, 10s, 2m, 1h). A bad value exits 78 before',
    'listening.',
  ]
  for (const group of GROUPS) {
    lines.push('', `${group}:`)
    for (const variable of TABLE.filter((entry) => entry.group === group)) {
      const fallback = variable.default === undefined ? (variable.unset ?? 'unset') : variable.default
      lines.push(
        `  ${variable.name}  ${plainText(variable.type)}  (default: ${plainText(fallback)})`,
        ...wrap(plainText(meaningOf(variable)), '      '),
      )
    }
  }
  return `${[...lines, ...HELP_TAIL].join('\n')}\n`
}

/** The README's configuration table, as Markdown rows (npm run docs writes it; a test compares). */
export function markdownTable(): string {
  const rows = TABLE.map((variable) => {
    const name = `\`${variable.name}\`${variable.example ? ` e.g. ${variable.example}` : ''}`
    const fallback =
      variable.default === undefined
        ? variable.unset
          ? `unset (${variable.unset})`
          : 'unset'
        : `\`${variable.default}\``
    return `| ${name} | ${variable.type} | ${fallback} | ${meaningOf(variable)} |`
  })
  return ['| Variable | Type | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n')
}
