// examples/swarm/stack.yml is a file `docker stack deploy` takes, with the flags that make updates safe.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { root } from '../helpers/programs.js'

const FILE = join(root, 'examples/swarm/stack.yml')

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
  'docker stack config accepts stack.yml',
  { skip: !hasDocker() && 'no docker client here' },
  async (t) => {
    const text = execFileSync('docker', ['stack', 'config', '-c', FILE], { encoding: 'utf8' })
    t.match(text, /image: colorproxy:latest/)
  },
)

function hasDocker(): boolean {
  try {
    execFileSync('docker', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
