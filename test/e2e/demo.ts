// npm run demo, as a newcomer runs it: it prints what to curl, splits 4:1, and Ctrl-C stops all three.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import { createInterface } from 'node:readline'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { cleanEnv } from '../helpers/programs.js'
import { DEMO, root } from '../helpers/paths.js'

t.test('npm run demo shows the 4:1 split and stops everything on Ctrl-C', async (t) => {
  const demo = spawn(process.execPath, ['--enable-source-maps', DEMO], {
    env: cleanEnv({ PORT: '0', ADMIN_PORT: '0' }),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => demo.kill('SIGKILL'))
  const output: string[] = []
  const lines = createInterface({ input: demo.stdout })
  lines.on('line', (line) => output.push(line))
  while (!output.some((line) => line.includes('Ctrl-C stops all three'))) await once(lines, 'line')
  const url = /curl (http:\/\/localhost:\d+)\//.exec(output.join('\n'))?.[1]
  t.ok(url, 'prints the URL to curl')

  const agent = new http.Agent({ keepAlive: true })
  const seen = new Map<string, number>()
  for (let i = 0; i < 500; i++) {
    const { body } = await get(`${url}/`, { agent })
    seen.set(body, (seen.get(body) ?? 0) + 1)
  }
  agent.destroy()
  t.same([...seen.keys()].sort(), ['\n<h1>myapp-v2 (green)</h1>\n', 'blue myapp-v1\n'])
  const green = ((seen.get('\n<h1>myapp-v2 (green)</h1>\n') ?? 0) / 500) * 100
  t.ok(Math.abs(green - 20) <= 7, `green ${green}% of 500`)

  demo.kill('SIGINT')
  const [code] = await once(demo, 'exit')
  t.equal(code, 0)
  t.equal(output.filter((line) => / stopped/.test(line)).length, 3, 'blue, green and the proxy each stopped')
})

t.test('the demo stops the backends and exits non-zero when the proxy cannot start', async (t) => {
  const { createServer } = await import('node:net')
  const { listen } = await import('../helpers/upstreams.js')
  const taken = await listen(t, createServer(), '0.0.0.0')
  const demo = spawn(process.execPath, ['--enable-source-maps', DEMO], {
    env: cleanEnv({ PORT: String(taken), ADMIN_PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => demo.kill('SIGKILL'))
  let stderr = ''
  demo.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk
  })
  demo.stdout.resume()
  const [code] = await once(demo, 'exit')
  t.equal(code, 1)
  t.match(stderr, /EADDRINUSE/)
  t.match(stderr, /demo: proxy exited \(1\); stopping the others/)
})

// A supervisor's SIGTERM reaches npm alone (npm passes it on); a closed terminal's SIGHUP reaches the
// whole process group, as it does here.
for (const [signal, group] of [
  ['SIGTERM', false],
  ['SIGHUP', true],
] as const) {
  t.test(`${signal} to npm run demo${group ? "'s process group" : ''} stops all three`, async (t) => {
    const npm = spawn('npm', ['run', '--silent', 'demo'], {
      cwd: root,
      env: cleanEnv({ PORT: '0', ADMIN_PORT: '0' }),
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    })
    t.teardown(() => npm.kill('SIGKILL'))
    const output: string[] = []
    const lines = createInterface({ input: npm.stdout })
    lines.on('line', (line) => output.push(line))
    while (!output.some((line) => line.includes('Ctrl-C stops all three'))) await once(lines, 'line')
    process.kill(group ? -(npm.pid as number) : (npm.pid as number), signal)
    await once(npm, 'close')
    t.equal(
      output.filter((line) => / stopped/.test(line)).length,
      3,
      'blue, green and the proxy each stopped',
    )
  })
}
