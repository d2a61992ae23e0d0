import t from 'tap'
import {
  type Config,
  ConfigError,
  type ConfigIo,
  type Env,
  loadConfig,
  type SiteConfig,
  variableNames,
} from '../../src/config/load.js'

/** The one site a config without SITES has. */
const only = (config: Config) => config.sites[0] as SiteConfig

/** Files by path; anything else is ENOENT, as fs would say. */
const files = (map: Record<string, string> = {}): ConfigIo => ({
  readFile(path) {
    const text = map[path]
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
    return text
  },
})

const BLUE = { BLUE: 'http://myapp-v1:8080' }

function problems(env: Env, io: ConfigIo = files()) {
  try {
    loadConfig(env, io)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('expected a ConfigError')
}

t.test('defaults from SPEC.md with only BLUE set', async (t) => {
  const config = loadConfig(BLUE, files())
  t.same(
    only(config).colors.map((c) => [c.name, c.variable, c.upstream.href, c.weight]),
    [['blue', 'BLUE', 'http://myapp-v1:8080/', 1]],
  )
  t.same(config.listen, { port: 8080, host: '0.0.0.0' })
  t.same(config.admin, { port: 8081, host: '0.0.0.0' })
  t.equal(config.colorHeader, 'Color')
  t.equal(config.preserveHost, true)
  t.equal(config.trustedProxies, undefined)
  t.same(config.timeouts, {
    connectMs: 5000,
    serverMs: 60000,
    serverIdleMs: 60000,
    clientMs: 60000,
    keepAliveMs: 15000,
    tunnelMs: 3600000,
  })
  t.same(config.upstream, {
    maxSocketAgeMs: 30000,
    keepAliveMs: 60000,
    resolveEveryMs: 5000,
    limits: { maxConnections: 1024, maxPending: 1024, queueTimeoutMs: 5000 },
  })
  t.same(config.shutdown, { delayMs: 2000, timeoutMs: 7000 })
  t.same(config.log, { level: 'info', format: 'json' })
  t.same(config.warnings, [])
})

t.test('the sillyproxy canary: BLUE 4, GREEN 1', async (t) => {
  const config = loadConfig(
    { ...BLUE, GREEN: 'http://myapp-v2:8080/', BLUE_WEIGHT: '4', GREEN_WEIGHT: '1' },
    files(),
  )
  t.same(
    only(config).colors.map((c) => [c.name, c.weight]),
    [
      ['blue', 4],
      ['green', 1],
    ],
  )
})

t.test('every scalar variable takes its good values', async (t) => {
  const config = loadConfig(
    {
      ...BLUE,
      PORT: '0',
      HOST: '::',
      ADMIN_PORT: '9001',
      ADMIN_HOST: '127.0.0.1',
      COLOR_HEADER: 'X-Color',
      PRESERVE_HOST: 'false',
      TIMEOUT_CONNECT: '500ms',
      TIMEOUT_SERVER: '2',
      TIMEOUT_SERVER_IDLE: '750ms',
      TIMEOUT_CLIENT: '1.5s',
      TIMEOUT_HTTP_KEEP_ALIVE: '2m',
      TIMEOUT_TUNNEL: '1h',
      UPSTREAM_MAX_SOCKET_AGE: '10s',
      UPSTREAM_KEEP_ALIVE: '20s',
      UPSTREAM_RESOLVE_EVERY: '250ms',
      UPSTREAM_MAX_CONNECTIONS: '50',
      UPSTREAM_MAX_PENDING: '0',
      TIMEOUT_QUEUE: '200ms',
      SHUTDOWN_DELAY: '0',
      SHUTDOWN_TIMEOUT: '3s',
      LOG_LEVEL: 'silent',
      LOG_FORMAT: 'pretty',
      TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.7,::1, fd00::/8',
    },
    files(),
  )
  t.same(config.listen, { port: 0, host: '::' })
  // The order BlockList lists its rules in differs between Node lines (20 and 26): compared as a set.
  t.same([...(config.trustedProxies?.rules ?? [])].sort(), [
    'Address: IPv4 192.168.1.7',
    'Address: IPv6 ::1',
    'Subnet: IPv4 10.0.0.0/8',
    'Subnet: IPv6 fd00::/8',
  ])
  t.same(config.admin, { port: 9001, host: '127.0.0.1' })
  t.equal(config.colorHeader, 'X-Color')
  t.equal(config.preserveHost, false)
  t.same(config.timeouts, {
    connectMs: 500,
    serverMs: 2000,
    serverIdleMs: 750,
    clientMs: 1500,
    keepAliveMs: 120000,
    tunnelMs: 3600000,
  })
  t.same(config.upstream, {
    maxSocketAgeMs: 10000,
    keepAliveMs: 20000,
    resolveEveryMs: 250,
    limits: { maxConnections: 50, maxPending: 0, queueTimeoutMs: 200 },
  })
  t.same(config.shutdown, { delayMs: 0, timeoutMs: 3000 })
  t.same(config.log, { level: 'silent', format: 'pretty' })
})

t.test('bad values are each named with what is expected', async (t) => {
  const bad: [string, string, RegExp][] = [
    ['PORT', '99999', /port number from 0 to 65535, got "99999"/],
    ['PORT', '80a', /port number/],
    ['ADMIN_PORT', '-1', /port number/],
    ['HOST', 'not a host', /address to listen on/],
    ['ADMIN_HOST', '', /address to listen on/],
    ['COLOR_HEADER', 'Bad Header', /HTTP header name/],
    ['COLOR_HEADER', 'Host', /HTTP header name/],
    ['PRESERVE_HOST', 'maybe', /true or false/],
    ['TIMEOUT_CONNECT', '5x', /duration above 0/],
    ['TIMEOUT_SERVER', '0', /duration above 0/],
    ['TIMEOUT_SERVER_IDLE', 'never', /duration above 0/],
    ['TRUSTED_PROXIES', '10.0.0.0/33', /addresses and CIDRs/],
    ['TRUSTED_PROXIES', 'lb.internal', /addresses and CIDRs/],
    ['TRUSTED_PROXIES', '10.0.0.1/8/2', /addresses and CIDRs/],
    ['TRUSTED_PROXIES', '::1/129', /addresses and CIDRs/],
    ['TIMEOUT_CLIENT', '-1s', /duration/],
    ['TIMEOUT_HTTP_KEEP_ALIVE', '1d', /duration/],
    ['TIMEOUT_TUNNEL', '999999h', /at most 596h/],
    ['UPSTREAM_MAX_SOCKET_AGE', 'soon', /duration/],
    ['UPSTREAM_KEEP_ALIVE', '0', /duration above 0/],
    ['UPSTREAM_MAX_CONNECTIONS', '0', /whole number from 1 to 1000000/],
    ['UPSTREAM_MAX_PENDING', 'many', /whole number from 0 to 1000000/],
    ['TIMEOUT_QUEUE', '0', /duration above 0/],
    ['RATE_LIMIT', '-1', /whole number from 0 to 1000000/],
    ['RATE_LIMIT_BURST', '0', /whole number from 1 to 1000000/],
    ['RATE_LIMIT_BY', 'cookie', /ip, or header:<Name>/],
    ['MAX_CONNECTIONS_PER_CLIENT', '-1', /whole number from 0 to 1000000/],
    ['PROXY_PROTOCOL', 'v2', /true or false/],
    ['HEALTH_CHECK_PATH', 'healthz', /path starting with \//],
    ['HEALTH_CHECK_INTERVAL', '0', /duration above 0/],
    ['HEALTH_CHECK_FAILS', '0', /whole number from 1 to 1000/],
    ['UPSTREAM_RESOLVE_EVERY', '', /duration/],
    ['SHUTDOWN_DELAY', '2 s', /duration 0 or more/],
    ['SHUTDOWN_TIMEOUT', 'x', /duration/],
    ['LOG_LEVEL', 'loud', /one of fatal, error, warn, info, debug, trace, silent/],
    ['LOG_FORMAT', 'xml', /one of json, pretty/],
    ['BLUE_WEIGHT', '50abc', /whole number from 0 to 1000000, got "50abc"/],
    ['BLUE_WEIGHT', '1.5', /whole number/],
    ['BLUE_WEIGHT', '1000001', /whole number/],
    ['COLORS', 'Blue', /lower-case names/],
    ['COLORS', 'blue,blue', /twice/],
    ['COLORS', 'blue,,green', /lower-case names/],
  ]
  for (const [name, value, message] of bad) {
    const found = problems({ ...BLUE, [name]: value })
    t.match(found, [{ variable: name, message }], `${name}=${JSON.stringify(value)}`)
  }
})

t.test('upstream URLs: http(s) with host, port and base path; never echoed', async (t) => {
  const good = [
    'http://myapp-v1:8080',
    'https://myapp.example',
    'http://tasks.myapp:8080/base/',
    'http://[::1]:81',
  ]
  for (const url of good)
    t.equal(only(loadConfig({ BLUE: url }, files())).colors[0]?.upstream.href.startsWith('http'), true, url)
  const bad = [
    'myapp:8080',
    'myapp-v1',
    'ftp://x',
    'http:/myapp',
    'http://',
    'http://x:99999',
    'http://x/?q=1',
    'http://x/#f',
  ]
  for (const url of bad) {
    const [found] = problems({ BLUE: `${url}`, GREEN: 'http://ok:1' })
    t.equal(found?.variable, 'BLUE', url)
    t.notMatch(found?.message, /got/, `${url} is not echoed`)
  }
  const [secret] = problems({ BLUE: 'http://user:hunter2@host:bad' })
  t.notMatch(secret?.message, /hunter2/)
})

t.test('reports every problem at once', async (t) => {
  const found = problems({
    BLUE: 'myapp:8080',
    GREEN_WEIGHT: 'abc',
    PORT: 'x',
    TIMEOUT_CONNECT: 'y',
    LOG_LEVEL: 'z',
  })
  t.same(found.map((p) => p.variable).sort(), [
    'BLUE',
    'GREEN_WEIGHT',
    'LOG_LEVEL',
    'PORT',
    'TIMEOUT_CONNECT',
  ])
  const error = new ConfigError(found)
  t.match(error.message, /^PORT: must be a port number/m)
  t.match(error.message, /^BLUE: must be an http/m)
})

t.test('no upstream at all says which variables to set', async (t) => {
  t.match(problems({}), [{ variable: 'BLUE, GREEN', message: /set at least one, e.g. BLUE=http/ }])
  t.match(problems({ COLORS: 'beta' }), [{ variable: 'BETA', message: /BETA=/ }])
  t.match(problems({ COLORS: 'blue,canary', BLUE: 'http://a' }), [
    { variable: 'COLORS', message: "canary clashes with colorproxy's own variable CANARY" },
  ])
})

t.test('at least one color with an upstream must have a weight above 0', async (t) => {
  t.match(problems({ ...BLUE, BLUE_WEIGHT: '0' }), [{ variable: 'BLUE_WEIGHT', message: /weight above 0/ }])
  // Weight 0 on one color is a drain, not an error.
  const config = loadConfig({ ...BLUE, GREEN: 'http://g:1', GREEN_WEIGHT: '0' }, files())
  t.same(
    only(config).colors.map((c) => c.weight),
    [1, 0],
  )
})

t.test('a weight left behind by --env-rm GREEN is a warning, not an error', async (t) => {
  const config = loadConfig({ ...BLUE, BLUE_WEIGHT: '4', GREEN_WEIGHT: '1' }, files())
  t.same(
    only(config).colors.map((c) => c.name),
    ['blue'],
  )
  t.same(config.warnings, ['GREEN_WEIGHT is set but GREEN is not: green gets no traffic'])
})

t.test('COLORS: custom colors with dashes map to upper-case prefixes', async (t) => {
  const config = loadConfig(
    { COLORS: 'stable,canary-2', STABLE: 'http://a:1', CANARY_2: 'http://b:1', CANARY_2_WEIGHT: '3' },
    files(),
  )
  t.same(
    only(config).colors.map((c) => [c.name, c.variable, c.weight]),
    [
      ['stable', 'STABLE', 1],
      ['canary-2', 'CANARY_2', 3],
    ],
  )
  t.match(problems({ COLORS: 'port,blue', ...BLUE }), [
    { variable: 'COLORS', message: /port clashes with .* PORT/ },
  ])
  t.match(problems({ COLORS: 'x-file', X_FILE: 'http://a:1' }), [{ variable: 'COLORS', message: /clashes/ }])
  t.same(variableNames(['a-b']).slice(-2), ['A_B', 'A_B_WEIGHT'])
})

t.test('<VAR>_FILE reads a secret from a file, trimming one trailing newline', async (t) => {
  const io = files({ '/run/secrets/green': 'http://user:s3cret@myapp-v2:8080\n', '/run/secrets/w': '3\r\n' })
  const config = loadConfig(
    { ...BLUE, GREEN_FILE: '/run/secrets/green', GREEN_WEIGHT_FILE: '/run/secrets/w' },
    io,
  )
  t.equal(only(config).colors[1]?.upstream.password, 's3cret')
  t.equal(only(config).colors[1]?.weight, 3)
})

t.test('<VAR>_FILE: both set, unreadable, and bad content that is never echoed', async (t) => {
  t.match(problems({ ...BLUE, BLUE_FILE: '/x' }, files({ '/x': 'http://a:1' })), [
    { variable: 'BLUE, BLUE_FILE', message: /not both/ },
  ])
  t.match(problems({ ...BLUE, PORT_FILE: '/missing' }), [
    { variable: 'PORT_FILE', message: /cannot read \/missing: ENOENT/ },
  ])
  const found = problems({ ...BLUE, BLUE_WEIGHT_FILE: '/w' }, files({ '/w': 'topsecret' }))
  t.match(found, [{ variable: 'BLUE_WEIGHT', message: /whole number/ }])
  t.notMatch(JSON.stringify(found), /topsecret/)
  const port = problems({ ...BLUE, PORT_FILE: '/p' }, files({ '/p': 'secretport' }))
  t.match(port, [{ variable: 'PORT', message: /port number/ }])
  t.notMatch(JSON.stringify(port), /secretport/)
  const colors = problems({ ...BLUE, COLORS_FILE: '/c' }, files({ '/c': 'Bad' }))
  t.notMatch(JSON.stringify(colors), /Bad/)
  t.match(colors, [{ variable: 'COLORS' }])
})

t.test('other *_FILE variables are not ours and are ignored', async (t) => {
  const config = loadConfig(
    { ...BLUE, SSL_CERT_FILE: '/nope', TF_CLI_CONFIG_FILE: '/nope', RED_FILE: '/nope' },
    files(),
  )
  t.equal(only(config).colors.length, 1)
})

t.test('ENV_FILE: dotenv under the real environment', async (t) => {
  const io = files({
    '.env': 'BLUE=http://from-file:1\nBLUE_WEIGHT=7\n',
    '/etc/cp.env': 'GREEN=http://g:2\n',
  })
  const config = loadConfig({ BLUE_WEIGHT: '2' }, io)
  t.equal(only(config).colors[0]?.upstream.host, 'from-file:1', 'read from the default .env')
  t.equal(only(config).colors[0]?.weight, 2, 'the real environment wins')
  t.equal(only(loadConfig({ ...BLUE, ENV_FILE: '/etc/cp.env' }, io)).colors[1]?.name, 'green')
  t.equal(only(loadConfig(BLUE, files())).colors.length, 1, 'a missing default .env is fine')
  t.match(problems({ ...BLUE, ENV_FILE: '/nope.env' }), [
    { variable: 'ENV_FILE', message: /cannot read \/nope.env: ENOENT/ },
  ])
})

t.test('PORT and ADMIN_PORT must differ', async (t) => {
  t.match(problems({ ...BLUE, PORT: '9000', ADMIN_PORT: '9000' }), [{ variable: 'PORT, ADMIN_PORT' }])
  t.equal(loadConfig({ ...BLUE, PORT: '0', ADMIN_PORT: '0' }, files()).listen.port, 0, 'both 0 is fine')
})

t.test('the default io reads real files', async (t) => {
  const dir = t.testdir({ green: 'http://myapp-v2:8080\n' })
  const config = loadConfig({ ...BLUE, GREEN_FILE: `${dir}/green`, ENV_FILE: `${dir}/green` })
  t.equal(only(config).colors[1]?.upstream.host, 'myapp-v2:8080')
})

t.test('a file that cannot be read without an error code still names the variable', async (t) => {
  const io: ConfigIo = {
    readFile() {
      throw new Error('EISDIR-ish')
    },
  }
  t.match(problems({ ...BLUE, GREEN_FILE: '/dir' }, io), [
    { variable: 'GREEN_FILE', message: /cannot read \/dir: unreadable/ },
  ])
})

t.test(
  'a malformed weight is an error even when its color has no upstream (the bad-update example)',
  async (t) => {
    t.match(problems({ ...BLUE, GREEN_WEIGHT: 'abc' }), [
      { variable: 'GREEN_WEIGHT', message: /whole number/ },
    ])
  },
)

t.test('canary controls: defaults from SPEC.md, and every value parsed', async (t) => {
  const config = loadConfig(BLUE, files())
  t.same(only(config).sticky, { mode: 'off', cookie: 'colorproxy', ttlMs: 86_400_000 })
  t.equal(only(config).overrideHeader, undefined)
  t.equal(only(config).failover, true)
  t.same(config.eject, { after: 5, forMs: 10_000 })
  t.equal(config.statsAuth, undefined)
  const set = loadConfig(
    {
      ...BLUE,
      STICKY: 'header:X-User-Id',
      STICKY_COOKIE: 'v',
      STICKY_TTL: '1h',
      OVERRIDE_HEADER: 'X-Color',
      FAILOVER: 'false',
      EJECT_AFTER: '0',
      EJECT_FOR: '30s',
      STATS_USER: 'ops',
      STATS_PASS_FILE: '/run/secrets/pass',
    },
    files({ '/run/secrets/pass': 'hunter2\n' }),
  )
  t.same(only(set).sticky, { mode: 'header', header: 'X-User-Id', cookie: 'v', ttlMs: 3_600_000 })
  t.equal(only(set).overrideHeader, 'X-Color')
  t.equal(only(set).failover, false)
  t.same(set.eject, { after: 0, forMs: 30_000 })
  t.same(set.statsAuth, { user: 'ops', pass: 'hunter2' })
  t.same(only(loadConfig({ ...BLUE, STICKY: 'ip' }, files())).sticky.mode, 'ip')
  t.same(only(loadConfig({ ...BLUE, STICKY: 'cookie' }, files())).sticky.mode, 'cookie')
})

t.test('canary controls: bad values are named, and the stats password is never shown', async (t) => {
  const found = problems({
    ...BLUE,
    STICKY: 'header:',
    STICKY_COOKIE: 'a b',
    STICKY_TTL: '0',
    OVERRIDE_HEADER: 'Host',
    FAILOVER: 'maybe',
    EJECT_AFTER: '-1',
    EJECT_FOR: 'soon',
    STATS_PASS: 'hunter2',
  })
  t.same(found.map((p) => p.variable).sort(), [
    'EJECT_AFTER',
    'EJECT_FOR',
    'FAILOVER',
    'OVERRIDE_HEADER',
    'STATS_USER, STATS_PASS',
    'STICKY',
    'STICKY_COOKIE',
    'STICKY_TTL',
  ])
  t.match(found.find((p) => p.variable === 'STICKY')?.message, /off, cookie, ip, or header:<Name>/)
  t.match(found.find((p) => p.variable === 'EJECT_AFTER')?.message, /whole number from 0 to 1000/)
  t.notMatch(JSON.stringify(found), /hunter2/)
  t.same(
    problems({ ...BLUE, STATS_USER: 'ops' }).map((p) => p.message),
    ['set both for basic auth, or neither'],
  )
})

t.test('WORKERS: 1 by default, a number from 1 to 64, or auto; anything else is named', async (t) => {
  t.equal(loadConfig({ ...BLUE }, files()).workers, 1)
  t.equal(loadConfig({ ...BLUE, WORKERS: '4' }, files()).workers, 4)
  t.equal(loadConfig({ ...BLUE, WORKERS: 'Auto' }, files()).workers, 'auto')
  for (const bad of ['0', '65', 'two', '1.5']) {
    t.match(
      problems({ ...BLUE, WORKERS: bad }),
      [{ variable: 'WORKERS', message: /must be auto \(one per core\) or a whole number from 1 to 64/ }],
      bad,
    )
  }
})

t.test('the edge: TLS, redirect, HSTS, users and upstream trust are read', async (t) => {
  const { issue, testCa } = await import('../helpers/tls.js')
  const ca = testCa()
  const site = issue(ca, ['shop.test', '*.shop.test'])
  const config = loadConfig(
    {
      ...BLUE,
      TLS_CERT: site.cert,
      TLS_KEY: site.key,
      HTTPS_PORT: '443',
      HTTP2: 'false',
      TLS_MIN_VERSION: 'TLSv1.3',
      HTTPS_REDIRECT: 'yes',
      HSTS: '31536000',
      USERS: 'alice:$apr1$AcnMuPDY$hVNrSF9sooairOJRc4ohT.',
      UPSTREAM_CA: ca.cert,
    },
    files(),
  )
  t.match(config.tls, {
    port: 443,
    host: '0.0.0.0',
    http2: false,
    minVersion: 'TLSv1.3',
    reloadEveryMs: 60_000,
  })
  t.same(
    config.tls?.certificates.map((c) => [c.source, c.names]),
    [['TLS_CERT', ['shop.test', '*.shop.test']]],
  )
  t.same(config.httpsRedirect, { port: 443 })
  t.equal(config.hstsSeconds, 31536000)
  t.same(
    [...(only(config).users ?? [])].map(([user]) => user),
    ['alice'],
  )
  t.same(config.upstreamTls, { ca: ca.cert, verify: true })
  const plain = loadConfig(BLUE, files())
  t.equal(plain.tls, undefined, 'no certificate: no TLS listener')
  t.equal(only(plain).users, undefined)
})

t.test('bad edge settings exit 78 naming each variable and never quoting a PEM or a hash', async (t) => {
  const { issue, testCa } = await import('../helpers/tls.js')
  const ca = testCa()
  const site = issue(ca, ['shop.test'])
  const other = issue(ca, ['other.test'])
  const expired = issue(ca, ['old.test'], -1)
  const dir = (map: Record<string, string>): ConfigIo => ({
    ...files(Object.fromEntries(Object.entries(map).map(([name, text]) => [`/certs/${name}`, text]))),
    list: () => Object.keys(map),
  })
  const said = (env: Env, io?: ConfigIo) =>
    problems({ ...BLUE, ...env }, io).map((p) => `${p.variable}: ${p.message}`)
  t.match(said({ TLS_CERT: site.cert }), ['TLS_CERT, TLS_KEY: set both'])
  t.match(said({ TLS_CERT: site.cert, TLS_KEY: other.key }), [/TLS_CERT, TLS_KEY: .*does not match/])
  t.match(said({ TLS_CERT: 'hello', TLS_KEY: 'x' }), [
    /^TLS_CERT: must be PEM/,
    /^TLS_KEY: must be an unencrypted PEM/,
  ])
  t.match(said({ TLS_CERTS_DIR: '/certs' }, dir({ 'a.pem': site.cert, 'b.pem': other.cert + site.key })), [
    /TLS_CERTS_DIR: a.pem holds no PEM private key/,
    /TLS_CERTS_DIR: b.pem: the private key does not match/,
  ])
  t.match(said({ TLS_CERTS_DIR: '/nowhere' }), [/TLS_CERTS_DIR: cannot read \/nowhere: ENOENT/])
  t.match(said({ TLS_CERTS_DIR: '/certs' }, dir({})), [/TLS_CERTS_DIR: \/certs has no files/])
  t.match(said({ USERS: 'alice:secret,bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=,:x' }), [
    /USERS: alice's hash is not .*; bob's hash is not .*; entry 3 is not name:hash/,
  ])
  t.match(said({ USERS: '# nobody' }), [/USERS: must list at least one/])
  t.match(said({ HSTS: '-1', AUTH_REALM: 'a"b', HTTPS_REDIRECT_PORT: '0', TLS_MIN_VERSION: 'SSLv3' }), [
    /TLS_MIN_VERSION: must be one of TLSv1.2, TLSv1.3/,
    /HSTS: must be whole seconds/,
    /HTTPS_REDIRECT_PORT: must be a port number from 1/,
    /AUTH_REALM: must be 1 to 100 printable/,
  ])
  t.match(said({ TLS_CERT: site.cert, TLS_KEY: site.key, HTTPS_PORT: '8080' }), [
    /HTTPS_PORT, PORT, ADMIN_PORT: must all differ/,
  ])
  const all = JSON.stringify([
    said({ TLS_CERT: site.cert, TLS_KEY: other.key }),
    said({ USERS: 'bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', UPSTREAM_CA: 'garbage' }),
  ])
  t.notMatch(all, /MII|W6ph5|garbage/, 'no PEM, hash or secret value is quoted')
  const old = loadConfig({ ...BLUE, TLS_CERTS_DIR: '/certs' }, dir({ 'old.pem': expired.cert + expired.key }))
  t.match(old.warnings, [/TLS: old.pem expired on /])
  const blind = loadConfig({ ...BLUE, UPSTREAM_TLS_VERIFY: 'false', HSTS: '60' }, files())
  t.match(blind.warnings, [/UPSTREAM_TLS_VERIFY=false/, /HSTS is set but there is no TLS listener/])
})

const SITES = {
  SITES: 'shop,api',
  SHOP_HOSTS: 'shop.localhost',
  SHOP_BLUE: 'http://shop-v1:8080',
  API_PATHS: '/api',
  API_STRIP_PATH: 'true',
  API_BLUE: 'http://api-v1:8080',
  API_GREEN: 'http://api-v2:8080',
  API_GREEN_WEIGHT: '1',
}

t.test('SITES: each site its colors and settings, the unprefixed colors the default site', async (t) => {
  const config = loadConfig(
    { ...BLUE, ...SITES, STICKY: 'cookie', FAILOVER: 'false', API_STICKY: 'ip', API_FAILOVER: 'true' },
    files(),
  )
  t.same(
    config.sites.map((site) => [site.name, site.prefix, site.hosts, site.paths, site.stripPath]),
    [
      ['default', '', undefined, ['/'], false],
      ['shop', 'SHOP_', ['shop.localhost'], ['/'], false],
      ['api', 'API_', undefined, ['/api'], true],
    ],
  )
  t.same(
    config.sites.map((site) => site.colors.map((c) => [c.name, c.variable, c.upstream.host, c.weight])),
    [
      [['blue', 'BLUE', 'myapp-v1:8080', 1]],
      [['blue', 'SHOP_BLUE', 'shop-v1:8080', 1]],
      [
        ['blue', 'API_BLUE', 'api-v1:8080', 1],
        ['green', 'API_GREEN', 'api-v2:8080', 1],
      ],
    ],
  )
  const [main, shop, api] = config.sites as [SiteConfig, SiteConfig, SiteConfig]
  t.same(main.sticky, { mode: 'cookie', cookie: 'colorproxy', ttlMs: 86_400_000 })
  t.same(shop.sticky, { mode: 'cookie', cookie: 'colorproxy-shop', ttlMs: 86_400_000 }, 'the global mode')
  t.same(api.sticky, { mode: 'ip', cookie: 'colorproxy-api', ttlMs: 86_400_000 }, 'its own mode')
  t.same([main.failover, shop.failover, api.failover], [false, false, true])
  const hashed = '$2b$10$CwTycUXWue0Thq9StjUM0uJ8DUJ6M9JDoKuSJc1sGSF/ssjzN.N0u'
  const users = loadConfig(
    { ...SITES, USERS: `ann:${hashed}`, API_USERS: `bob:${hashed}`, API_OVERRIDE_HEADER: 'X-Api-Color' },
    files(),
  )
  t.same(
    users.sites.map((site) => [site.name, [...(site.users?.keys() ?? [])], site.overrideHeader]),
    [
      ['shop', ['ann'], undefined],
      ['api', ['bob'], 'X-Api-Color'],
    ],
    'no unprefixed color: no default site; USERS is every site’s unless it has its own',
  )
  const own = loadConfig({ ...BLUE, ...SITES, SHOP_COLORS: 'a,b', SHOP_A: 'http://a' }, files())
  t.same(own.sites[1]?.colors[0]?.variable, 'SHOP_A', "a site's own COLORS")
  const idn = loadConfig({ ...SITES, SHOP_HOSTS: 'Bücher.Example.' }, files())
  t.same(idn.sites[0]?.hosts, ['xn--bcher-kva.example'])
})

t.test('SITES: every collision and ambiguity exits 78 naming the variables', async (t) => {
  t.same(problems({ ...SITES, SHOP_HOSTS: undefined, SHOP_PATHS: '/api' }), [
    {
      variable: 'SHOP_PATHS, API_PATHS',
      message: 'the sites shop and api both claim (any host) /api: give each its own host or path',
    },
  ])
  t.same(problems({ ...SITES, API_HOSTS: 'SHOP.localhost.', API_PATHS: '/x,/' }), [
    {
      variable: 'SHOP_HOSTS, SHOP_PATHS, API_HOSTS, API_PATHS',
      message: 'the sites shop and api both claim shop.localhost /: give each its own host or path',
    },
  ])
  t.ok(loadConfig({ ...SITES, API_HOSTS: 'shop.localhost' }, files()), 'one host, two paths: no collision')
  t.match(problems({ ...SITES, SITES: 'shop,api,blue' }), [
    {
      variable: 'SITES',
      message: "the site blue clashes with the color blue: its variables would read as the color's",
    },
  ])
  t.match(problems({ ...SITES, SITES: 'shop,api,timeout', TIMEOUT_BLUE: 'http://x' }), [
    {
      variable: 'SITES',
      message: /^the site timeout clashes with colorproxy's own variables \(TIMEOUT_CONNECT, /,
    },
  ])
  t.match(problems({ ...SITES, SITES: 'shop,api,https', HTTPS_BLUE: 'http://x' }), [
    { variable: 'SITES', message: /HTTPS_PORT/ },
  ])
  t.same(
    problems({ ...SITES, SITES: 'shop,shop-eu,api', SHOP_EU_BLUE: 'http://x', SHOP_EU_HOSTS: 'eu.test' }),
    [
      {
        variable: 'SITES',
        message: "the site shop-eu clashes with the site shop: SHOP_EU_… could be read as shop's",
      },
    ],
  )
  t.match(problems({ ...SITES, SITES: 'shop,default' }), [{ variable: 'SITES', message: /default or none/ }])
  t.match(problems({ ...SITES, API_PATHS: 'api' }), [{ variable: 'API_PATHS', message: /start with \// }])
  t.match(problems({ ...SITES, SHOP_BLUE: undefined }), [
    {
      variable: 'SHOP_BLUE, SHOP_GREEN',
      message: /^no color has an upstream: set at least one, e.g. SHOP_BLUE=/,
    },
  ])
  t.match(problems({ ...SITES, API_BLUE_WEIGHT: '0', API_GREEN_WEIGHT: '0' }), [
    { variable: 'API_BLUE_WEIGHT, API_GREEN_WEIGHT', message: /weight 0/ },
  ])
  t.match(problems({ ...SITES, SHOP_COLORS: 'blue,hosts' }), [
    { variable: 'SHOP_COLORS', message: /hosts clashes with colorproxy's own variable SHOP_HOSTS/ },
  ])
  t.match(
    problems({}),
    [{ variable: 'BLUE, GREEN', message: /no color has an upstream/ }],
    'no SITES: as ever',
  )
  t.same(
    problems({ ...SITES, SHOP_STICKY: 'sometimes', API_FAILOVER: 'maybe', SHOP_HOSTS: 'a:1' }).map(
      (p) => p.variable,
    ),
    ['SHOP_STICKY', 'SHOP_HOSTS', 'API_FAILOVER'],
  )
})

t.test('SITES: secrets in a site stay unsaid; a site that takes everything is a warning', async (t) => {
  const text = JSON.stringify(
    problems({ ...SITES, SHOP_BLUE: 'ftp://user:hunter2@x', API_USERS: 'bob:secret-plain-text' }),
  )
  t.match(text, /SHOP_BLUE/)
  t.match(text, /API_USERS/)
  t.notMatch(text, /hunter2|secret-plain-text/)
  const config = loadConfig({ ...BLUE, ...SITES, API_PATHS: '/' }, files())
  t.match(config.warnings, [/the site api answers every host and path: the default site .* gets no traffic/])
})

t.test('CANARY and MIRROR: read per site, and exit 78 without an upstream or a baseline', async (t) => {
  const GREEN = { ...BLUE, GREEN: 'http://myapp-v2:8080' }
  const config = loadConfig({ ...GREEN, CANARY: 'green', CANARY_STEPS: '0,10,100', MIRROR: 'green' }, files())
  t.same(only(config).canary, {
    color: 'green',
    rules: { steps: [0, 10, 100], intervalMs: 60_000, maxErrorRate: 1, maxP99Ms: 1000, minRequests: 20 },
  })
  t.same(only(config).mirror, { color: 'green', percent: 100 })
  t.same([config.canaryAbortHealth, config.mirrorMaxInFlight], [false, 100])
  t.equal(only(loadConfig(GREEN, files())).canary, undefined)
  const sited = loadConfig(
    { ...SITES, CANARY: 'green', CANARY_INTERVAL: '5s', API_CANARY_MAX_P99: '300ms' },
    files(),
  )
  t.match(
    sited.sites.map((site) => site.canary),
    [undefined, { color: 'green', rules: { intervalMs: 5000, maxP99Ms: 300 } }],
  )
  t.match(problems({ ...SITES, SHOP_CANARY: 'blue' }), [
    { variable: 'SHOP_CANARY', message: /needs a baseline/ },
  ])
  const both = loadConfig({ ...SITES, SHOP_GREEN: 'http://g', CANARY: 'green' }, files())
  t.same(
    both.sites.map((site) => site.canary?.color),
    ['green', 'green'],
    'the global CANARY in every site that can take it',
  )
  t.match(problems({ ...GREEN, COLORS: 'blue,green,red', CANARY: 'red' }), [
    { variable: 'CANARY', message: 'red has no upstream: set RED' },
  ])
  t.match(
    problems({ ...GREEN, CANARY: 'grean' }),
    [{ variable: 'CANARY', message: 'grean is not a color (blue, green)' }],
    'a misspelt color is named as one, not as an upstream to set',
  )
  t.match(problems({ ...GREEN, GREEN_WEIGHT: '0', BLUE_WEIGHT: '1', CANARY: 'blue' }), [
    { variable: 'CANARY', message: /needs a baseline/ },
  ])
  t.match(problems({ ...SITES, API_MIRROR: 'purple' }), [
    { variable: 'API_MIRROR', message: 'purple is not a color (blue, green)' },
  ])
  t.match(problems({ ...SITES, API_COLORS: 'blue,purple', API_MIRROR: 'purple' }), [
    { variable: 'API_MIRROR', message: 'purple has no upstream: set API_PURPLE' },
  ])
  for (const steps of ['10,5', '5,5', '0,101', 'a', '10,', '-1'])
    t.match(
      problems({ ...GREEN, CANARY: 'green', CANARY_STEPS: steps }),
      [{ variable: 'CANARY_STEPS' }],
      steps,
    )
  t.match(
    problems({ ...GREEN, CANARY_MAX_ERROR_RATE: '101', MIRROR_PERCENT: 'x', MIRROR_MAX_IN_FLIGHT: '0' }),
    [
      { variable: 'CANARY_MAX_ERROR_RATE' },
      { variable: 'MIRROR_PERCENT' },
      { variable: 'MIRROR_MAX_IN_FLIGHT' },
    ],
  )
})

t.test(
  'limits per site: <SITE>_RATE_LIMIT_BY and <SITE>_HEALTH_CHECK_PATH, with the global rules',
  async (t) => {
    const config = loadConfig(
      {
        SITES: 'api',
        API_BLUE: 'http://api:80',
        API_RATE_LIMIT: '5',
        API_RATE_LIMIT_BY: 'header:X-Api-Key',
        API_HEALTH_CHECK_PATH: '/ready',
        HEALTH_CHECK_INTERVAL: '1s',
        HEALTH_CHECK_TIMEOUT: '500ms',
        HEALTH_CHECK_FAILS: '2',
        HEALTH_CHECK_PASSES: '4',
      },
      files(),
    )
    t.match(config.sites[0], {
      name: 'api',
      rateLimit: { rate: 5, burst: 10, by: { mode: 'header', header: 'X-Api-Key' } },
      healthCheck: { path: '/ready', intervalMs: 1000, timeoutMs: 500, fails: 2, passes: 4 },
    })
  },
)

t.test('a file that cannot be read says why in words, and says nothing more about its pair', async (t) => {
  const said = (env: Record<string, string>) =>
    problems({ BLUE: 'http://b', ...env }).map((p) => `${p.variable}: ${p.message}`)
  t.same(said({ TLS_CERT_FILE: '/missing/cert.pem', TLS_KEY_FILE: '/missing/key.pem' }), [
    'TLS_CERT_FILE: cannot read /missing/cert.pem: ENOENT (no such file or folder)',
    'TLS_KEY_FILE: cannot read /missing/key.pem: ENOENT (no such file or folder)',
  ])
  t.same(
    said({ TLS_CERT_FILE: '/missing/cert.pem', TLS_KEY: 'whatever' }).filter((l) => /set both/.test(l)),
    [],
  )
  t.same(said({ STATS_USER: 'ops', STATS_PASS_FILE: '/missing/pass' }), [
    'STATS_PASS_FILE: cannot read /missing/pass: ENOENT (no such file or folder)',
  ])
  const { readError } = await import('../../src/config/file-errors.js')
  t.equal(readError(Object.assign(new Error('x'), { code: 'EACCES' })), 'EACCES (permission denied)')
  t.equal(readError(Object.assign(new Error('x'), { code: 'EIO' })), 'EIO')
  t.equal(readError(new Error('no code')), 'unreadable')
})

t.test(
  'a misspelt variable, or a site not in SITES, is a warning naming it and the closest name',
  async (t) => {
    const warned = (env: Record<string, string>) =>
      loadConfig({ BLUE: 'http://b', ...env }, files({ '/g': 'http://g' })).warnings
    t.same(warned({ GREEN: 'http://g', GREEN_WIEGHT: '2' }), [
      'GREEN_WIEGHT is not a colorproxy variable and is ignored: did you mean GREEN_WEIGHT?',
    ])
    t.same(warned({ STICKI: 'ip', TIMEOUT_CONECT: '1s' }), [
      'STICKI is not a colorproxy variable and is ignored: did you mean STICKY?',
      'TIMEOUT_CONECT is not a colorproxy variable and is ignored: did you mean TIMEOUT_CONNECT?',
    ])
    t.same(warned({ SHOP_HOSTS: 'shop.localhost' }), [
      'SHOP_HOSTS is ignored: the site shop is not in SITES, which is not set',
    ])
    t.same(
      warned({ SITES: 'api', API_PATHS: '/api', API_BLUE: 'http://a', SHOP_BLUE_WEIGHT: '2', API_HOTS: 'x' }),
      [
        'SHOP_BLUE_WEIGHT is ignored: the site shop is not in SITES (api)',
        'API_HOTS is not a colorproxy variable and is ignored: did you mean API_HOSTS?',
      ],
    )
    t.same(
      warned({
        PATH: '/usr/bin',
        HOME: '/root',
        HOSTNAME: 'box',
        USER: 'me',
        COLOR: '1',
        NODE_ENV: 'production',
        GREEN_FILE: '/g',
      }),
      [],
      "the environment's own variables, and a read variable's _FILE twin, are not strays",
    )
  },
)

t.test(
  "every site setting the spec table lists is read under a site's prefix, by its entry's parser",
  async (t) => {
    const { SITE_SETTINGS } = await import('../../src/config/spec.js')
    t.ok(SITE_SETTINGS.size >= 20, 'the patterns and the perSite entries')
    // The canary's and the mirror's own settings are read once the site has a canary and a mirror.
    const rolling = { ...SITES, API_CANARY: 'green', API_MIRROR: 'green' }
    for (const suffix of SITE_SETTINGS.keys()) {
      const found = problems({ ...rolling, [`API_${suffix}`]: 'no\u0001such value' })
      t.ok(
        found.some((one) => one.variable === `API_${suffix}`),
        `API_${suffix} is read and judged`,
      )
    }
  },
)

t.test('ACME=true: the names, the TLS listener without a certificate yet, and what it needs', async (t) => {
  const acme = { ...BLUE, ACME: 'true', ACME_EMAIL: 'ops@example.com' }
  const config = loadConfig(
    {
      ...acme,
      ACME_DOMAINS: 'www.example.com',
      SITES: 'shop',
      SHOP_HOSTS: 'shop.example.com,*.shop.example.com',
      SHOP_BLUE: 'http://shop:8080',
    },
    files(),
  )
  t.same(config.acme?.names, ['www.example.com', 'shop.example.com'], 'ACME_DOMAINS, then exact site hosts')
  t.match(config.acme, {
    challenge: 'http-01',
    store: { kind: 'folder', path: '/data/acme' },
    directory: 'https://acme-v02.api.letsencrypt.org/directory',
    renewBeforeMs: 30 * 86_400_000,
    eab: undefined,
  })
  t.same(config.tls?.certificates, [], 'a TLS listener with no certificate until one is issued')
  t.equal(loadConfig(BLUE, files()).acme, undefined, 'off by default')
  t.same(problems({ ...BLUE, ACME: 'true' }), [
    { variable: 'ACME_EMAIL', message: "ACME=true needs the account's contact: set ACME_EMAIL" },
    {
      variable: 'ACME, ACME_DOMAINS',
      message: 'ACME=true has no name to certify: set ACME_DOMAINS, or a site with <SITE>_HOSTS',
    },
  ])
})

t.test('bad ACME values name their variable; the EAB key is never shown', async (t) => {
  const found = problems({
    ...BLUE,
    ACME: 'true',
    ACME_EMAIL: 'not-an-address',
    ACME_DOMAINS: '*.example.com',
    ACME_DIRECTORY: 'http://ca.example/dir',
    ACME_CHALLENGE: 'dns-01',
    ACME_STORE: 'data/acme',
    ACME_RENEW_BEFORE: '30',
    ACME_EAB_HMAC_KEY: 'secret key!',
  })
  t.same(
    found.map((one) => one.variable),
    [
      'ACME_DOMAINS',
      'ACME_EMAIL',
      'ACME_DIRECTORY',
      'ACME_CHALLENGE',
      'ACME_STORE',
      'ACME_RENEW_BEFORE',
      'ACME_EAB_HMAC_KEY',
    ],
  )
  t.notMatch(JSON.stringify(found), /secret key/)
  t.match(
    problems({ ...BLUE, ACME: 'true', ACME_EMAIL: 'a@b.c', ACME_DOMAINS: 'a.test', ACME_EAB_KID: 'kid' }),
    [
      {
        variable: 'ACME_EAB_KID, ACME_EAB_HMAC_KEY',
        message: 'set both for external account binding, or neither',
      },
    ],
  )
  const eab = loadConfig(
    {
      ...BLUE,
      ACME: 'true',
      ACME_EMAIL: 'a@b.c',
      ACME_DOMAINS: 'a.test',
      ACME_EAB_KID: 'kid',
      ACME_EAB_HMAC_KEY: 'c2VjcmV0',
      ACME_RENEW_BEFORE: '12h',
      ACME_STORE: '/var/acme/',
    },
    files(),
  )
  t.match(eab.acme, {
    eab: { kid: 'kid', hmacKey: 'c2VjcmV0' },
    renewBeforeMs: 12 * 3_600_000,
    store: { kind: 'folder', path: '/var/acme' },
  })
})

t.test('ACME_STORE as a Redis URL: kept whole for the client, shown without its password', async (t) => {
  const acme = { ...BLUE, ACME: 'true', ACME_EMAIL: 'a@b.c', ACME_DOMAINS: 'a.test' }
  const at = (store: string) => loadConfig({ ...acme, ACME_STORE: store }, files()).acme?.store
  t.same(at('redis://redis:6379'), {
    kind: 'redis',
    redis: { url: 'redis://redis:6379', shown: 'redis://redis:6379' },
  })
  t.same(at('rediss://default:s3cret@redis:6380/2'), {
    kind: 'redis',
    redis: { url: 'rediss://default:s3cret@redis:6380/2', shown: 'rediss://***@redis:6380/2' },
  })
  for (const [store, message] of [
    ['redis://', /must name the Redis host/],
    ['redis://user:s3cret@redis:6379/db?x=1', /may end only in a database number/],
    ['redis://:s3cret@redis:6379/a/b', /may end only in a database number/],
    ['redis://:s3cret@[::1', /must be a URL such as redis:\/\/redis:6379/],
  ] as const) {
    const found = problems({ ...acme, ACME_STORE: store })
    t.match(found, [{ variable: 'ACME_STORE', message }], store.replace('s3cret', '…'))
    t.notMatch(JSON.stringify(found), /s3cret/, 'the password is never shown')
  }
  t.match(problems({ ...acme, ACME_STORE: 'memcached://m:11211' }), [
    { variable: 'ACME_STORE', message: /an absolute folder such as \/data\/acme, or a URL such as redis:/ },
  ])
})

t.test(
  'FLEET_STORE, FLEET_NAME, RATE_LIMIT_SHARED: read, checked, and ACME_STORE following them',
  async (t) => {
    const store = 'redis://default:s3cret@redis:6379/1'
    const fleet = loadConfig({ ...BLUE, FLEET_STORE: store, FLEET_NAME: 'shop.edge-1' }, files())
    t.same(fleet.fleet, {
      store: { url: store, shown: 'redis://***@redis:6379/1' },
      name: 'shop.edge-1',
      rateLimitShared: false,
    })
    t.equal(loadConfig(BLUE, files()).fleet, undefined, 'unset: every replica alone')
    const acme = { ...BLUE, ACME: 'true', ACME_EMAIL: 'a@b.c', ACME_DOMAINS: 'a.test', FLEET_STORE: store }
    t.match(loadConfig(acme, files()).acme, {
      store: { kind: 'redis', redis: { url: store } },
      storePrefix: 'colorproxy:acme:',
    })
    t.match(
      loadConfig({ ...acme, ACME_STORE: '/data/certs', FLEET_NAME: 'edge' }, files()).acme,
      { store: { kind: 'folder', path: '/data/certs' }, storePrefix: 'edge:acme:' },
      'ACME_STORE given wins',
    )
    for (const name of ['', '-edge', 'a b', 'x'.repeat(65), 'edge:1'])
      t.match(problems({ ...BLUE, FLEET_STORE: store, FLEET_NAME: name }), [{ variable: 'FLEET_NAME' }], name)
    const bad = problems({ ...BLUE, FLEET_STORE: 'http://:s3cret@redis' })
    t.match(bad, [{ variable: 'FLEET_STORE', message: /must be a redis:\/\/ or rediss:\/\/ URL/ }])
    t.notMatch(JSON.stringify(bad), /s3cret/, 'the password is never shown')
    t.match(problems({ ...BLUE, RATE_LIMIT_SHARED: 'true' }), [
      { variable: 'RATE_LIMIT_SHARED, FLEET_STORE', message: /needs FLEET_STORE/ },
    ])
    t.same(
      problems({ ...BLUE, RATE_LIMIT_SHARED: 'true', FLEET_STORE: 'nope' }).map((one) => one.variable),
      ['FLEET_STORE'],
      'a FLEET_STORE that failed is not also said missing',
    )
    const shared = loadConfig({ ...BLUE, RATE_LIMIT_SHARED: 'true', FLEET_STORE: store }, files())
    t.match(shared.warnings, [/RATE_LIMIT_SHARED=true but no site has a RATE_LIMIT/])
    const limited = { ...BLUE, RATE_LIMIT_SHARED: 'true', FLEET_STORE: store, RATE_LIMIT: '5' }
    t.same(loadConfig(limited, files()).warnings, [])
    t.equal(loadConfig(limited, files()).fleet?.rateLimitShared, true)
  },
)
