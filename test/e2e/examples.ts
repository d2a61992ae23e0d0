// examples/swarm/stack.yml and stack-sites.yml are files `docker stack deploy` takes, with the flags that
// make updates safe; the proxy's environment in each is one colorproxy starts with.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { root } from '../helpers/paths.js'
import { issue, testCa } from '../helpers/tls.js'

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
  deploy?: { update_config?: Record<string, unknown>; rollback_config?: Record<string, unknown> }
}

t.test('stack.yml: what stack deploy rejects is absent, what makes updates safe is there', async (t) => {
  const stack = parse(readFileSync(FILE, 'utf8')) as { services: Record<string, Service>; secrets: object }
  t.same(Object.keys(stack.services).sort(), ['myapp-v1', 'myapp-v2', 'proxy'])
  for (const [name, service] of Object.entries(stack.services)) {
    t.equal(service.build, undefined, `${name}: no build (stack deploy ignores it)`)
    t.equal(service.depends_on, undefined, `${name}: no depends_on`)
    t.equal(service.stop_grace_period, '15s', `${name}: a grace period above the drain`)
    t.match(service.deploy?.update_config, {
      order: 'start-first',
      failure_action: 'rollback',
      parallelism: 1,
    })
    t.match(service.deploy?.rollback_config, { order: 'start-first' })
  }
  const proxy = stack.services.proxy as Service
  t.ok(proxy.healthcheck, 'the proxy has a health check')
  t.match(proxy.environment, { STATS_PASS_FILE: '/run/secrets/colorproxy_stats_pass' })
  t.same(proxy.secrets, [
    'colorproxy_stats_pass',
    { source: 'site.pem', target: '/run/secrets/certs/site.pem' },
    'colorproxy_users',
  ])
  t.match(stack.secrets, {
    colorproxy_stats_pass: { external: true },
    'site.pem': { external: true },
    colorproxy_users: { external: true },
  })
  t.match(proxy.environment, {
    TLS_CERTS_DIR: '/run/secrets/certs',
    HTTPS_REDIRECT: 'true',
    USERS_FILE: '/run/secrets/colorproxy_users',
  })
  t.same(
    proxy.ports?.map((port) => [port.published, port.target]),
    [
      [80, 8080],
      [443, 8443],
    ],
    'the edge: 80 redirects, 443 serves TLS',
  )
})

t.test(
  'stack-sites.yml: one edge, shop by host and api by host and path, each with its certificate',
  async (t) => {
    const stack = parse(readFileSync(SITES_FILE, 'utf8')) as { services: Record<string, Service> }
    t.same(Object.keys(stack.services).sort(), ['api-v1', 'api-v2', 'proxy', 'shop-v1'])
    for (const service of Object.values(stack.services)) {
      t.match(service.deploy?.update_config, { order: 'start-first', failure_action: 'rollback' })
    }
    const proxy = stack.services.proxy as Service
    // The proxy's environment as Swarm would give it, with its secrets as files.
    const ca = testCa()
    const secrets: Record<string, string> = {
      '/run/secrets/colorproxy_stats_pass': 'x',
      '/run/secrets/certs/shop.pem': pem(issue(ca, ['shop.example.com'])),
      '/run/secrets/certs/api.pem': pem(issue(ca, ['api.example.com'])),
    }
    const config = loadConfig(proxy.environment ?? {}, {
      readFile(path) {
        const text = secrets[path]
        if (text === undefined) throw Object.assign(new Error(path), { code: 'ENOENT' })
        return text
      },
      list: () => ['api.pem', 'shop.pem'],
    })
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
    t.same(
      config.tls?.certificates.map((certificate) => certificate.names),
      [['api.example.com'], ['shop.example.com']],
    )
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

const pem = ({ cert, key }: { cert: string; key: string }) => `${cert}${key}`

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
