// examples/swarm/stack.yml and stack-sites.yml are files `docker stack deploy` takes, with the flags that
// make updates safe; the proxy's environment in each is one colorproxy starts with.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { parse } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { root } from '../helpers/paths.js'

// alice's bcrypt hash ("a long password"), as htpasswd -nbB makes one.
const USERS = 'alice:$2b$05$U3oE0hnSmkylk/.hn1c1UuJwE3n6TT69xJJr0dHxtB7bMRIxBHIbO\n'

const FILE = join(root, 'examples/swarm/stack.yml')
const SITES_FILE = join(root, 'examples/swarm/stack-sites.yml')

interface Service {
  image?: string
  build?: unknown
  depends_on?: unknown
  stop_grace_period?: string
  healthcheck?: unknown
  secrets?: (string | { source: string; target: string })[]
  ports?: { target: number; published: number }[]
  environment?: Record<string, string>
  deploy?: {
    update_config?: Record<string, unknown>
    rollback_config?: Record<string, unknown>
    [key: string]: unknown
  }
}

t.test('stack.yml: what stack deploy rejects is absent, what makes updates safe is there', async (t) => {
  const stack = parse(readFileSync(FILE, 'utf8')) as {
    services: Record<string, Service>
    secrets: object
    volumes: object
  }
  t.same(Object.keys(stack.services).sort(), ['myapp-v1', 'myapp-v2', 'proxy', 'redis'])
  for (const [name, service] of Object.entries(stack.services)) {
    t.equal(service.build, undefined, `${name}: no build (stack deploy ignores it)`)
    t.equal(service.depends_on, undefined, `${name}: no depends_on`)
    t.equal(service.stop_grace_period, '15s', `${name}: a grace period above the drain`)
    // Redis stops before its successor starts: one at a time on its volume.
    const order = name === 'redis' ? 'stop-first' : 'start-first'
    t.match(service.deploy?.update_config, { order, failure_action: 'rollback', parallelism: 1 })
    t.match(service.deploy?.rollback_config, { order })
  }
  const proxy = stack.services.proxy as Service
  t.ok(proxy.healthcheck, 'the proxy has a health check')
  t.match(proxy.environment, { STATS_PASS_FILE: '/run/secrets/colorproxy_stats_pass' })
  t.same(proxy.secrets, ['colorproxy_stats_pass', 'colorproxy_users'])
  t.match(stack.secrets, { colorproxy_stats_pass: { external: true }, colorproxy_users: { external: true } })
  t.match(proxy.environment, {
    ACME: 'true',
    FLEET_STORE: 'redis://redis:6379',
    HTTPS_REDIRECT: 'true',
    USERS_FILE: '/run/secrets/colorproxy_users',
  })
  const config = loadConfig(deployed(proxy.environment), swarmFiles({}))
  t.match(config.acme, {
    names: ['www.example.com'],
    email: 'ops@example.com',
    store: { kind: 'redis', redis: { url: 'redis://redis:6379' } },
    challenge: 'http-01',
  })
  t.match(
    config.fleet,
    { store: { url: 'redis://redis:6379' }, name: 'colorproxy' },
    'one fleet on that Redis',
  )
  t.same(config.httpsRedirect, { port: 443 })
  redisKeepsItsData(t, stack.services.redis as Service & Redis, stack.volumes)
  t.same(
    proxy.ports?.map((port) => [port.published, port.target]),
    [
      [80, 8080],
      [443, 8443],
    ],
    'the edge: 80 answers the CA and redirects, 443 serves TLS',
  )
})

interface Redis {
  image: string
  command: string[]
  volumes: string[]
}

/** The store: Redis 7, its append-only file on a named volume, one task on one node. */
function redisKeepsItsData(t: Tap, redis: Service & Redis, volumes: object): void {
  t.equal(redis.image, 'redis:7-alpine')
  t.same(redis.command, ['redis-server', '--appendonly', 'yes'], 'the certificates survive a restart')
  t.same(redis.volumes, ['redis-data:/data'])
  t.ok('redis-data' in volumes, 'a named volume')
  t.match(redis.deploy, { replicas: 1, placement: { constraints: ['node.role == manager'] } })
}

type Tap = Test

/** The environment as `docker stack deploy` gives it: `${NAME:-default}` becomes its default here. */
function deployed(environment: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [name, value.replace(/\$\{\w+:-([^}]*)\}/g, '$1')]),
  )
}

/** The secrets a stack names, as Swarm mounts them. */
function swarmFiles(secrets: Record<string, string>) {
  return {
    readFile(path: string) {
      const text = {
        '/run/secrets/colorproxy_stats_pass': 'x',
        '/run/secrets/colorproxy_users': USERS,
        ...secrets,
      }[path]
      if (text === undefined) throw Object.assign(new Error(path), { code: 'ENOENT' })
      return text
    },
  }
}

t.test(
  'stack-sites.yml: one edge, shop by host and api by host and path, each with its certificate from ACME',
  async (t) => {
    const stack = parse(readFileSync(SITES_FILE, 'utf8')) as {
      services: Record<string, Service>
      volumes: object
    }
    t.same(Object.keys(stack.services).sort(), ['api-v1', 'api-v2', 'proxy', 'redis', 'shop-v1'])
    for (const [name, service] of Object.entries(stack.services)) {
      const order = name === 'redis' ? 'stop-first' : 'start-first'
      t.match(service.deploy?.update_config, { order, failure_action: 'rollback' })
    }
    const proxy = stack.services.proxy as Service
    const config = loadConfig(deployed(proxy.environment), swarmFiles({}))
    t.same(
      config.sites.map((site) => [
        site.name,
        site.hosts,
        site.paths,
        site.stripPath,
        site.colors.map((c) => c.upstream.host),
      ]),
      [
        ['shop', ['shop.example.com'], ['/'], false, ['shop-v1:8080']],
        ['api', ['api.example.com'], ['/v2'], true, ['api-v1:8080']],
      ],
    )
    t.match(
      config.acme,
      {
        names: ['shop.example.com', 'api.example.com'],
        store: { kind: 'redis', redis: { url: 'redis://redis:6379' } },
      },
      "a certificate for each site's host, from the shared store",
    )
    redisKeepsItsData(t, stack.services.redis as Service & Redis, stack.volumes)
    t.same(config.httpsRedirect, { port: 443 })
    t.same(
      proxy.ports?.map((port) => [port.published, port.target]),
      [
        [80, 8080],
        [443, 8443],
      ],
    )
  },
)

for (const file of [FILE, SITES_FILE]) {
  t.test(
    `docker stack config accepts ${file.slice(root.length + 1)}`,
    { skip: !hasDocker() && 'no docker client here' },
    async (t) => {
      const text = execFileSync('docker', ['stack', 'config', '-c', file], { encoding: 'utf8' })
      t.match(text, /image: colorproxy:latest/)
    },
  )
}

function hasDocker(): boolean {
  try {
    execFileSync('docker', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
