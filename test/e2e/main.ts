// The real colorproxy program as a child process: exit codes, signals, environment sources.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { createInterface } from 'node:readline'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { listen, recordingUpstream, refusedPort } from '../helpers/upstreams.js'
import { cleanEnv, start, startProxy } from '../helpers/programs.js'
import { PROXY } from '../helpers/paths.js'

const BAD_ENVIRONMENTS: { env: Record<string, string>; names: string[] }[] = [
  { env: {}, names: ['BLUE, GREEN'] },
  { env: { BLUE: 'myapp:8080' }, names: ['BLUE'] },
  { env: { BLUE: 'http://myapp-v1:8080', GREEN_WEIGHT: 'abc' }, names: ['GREEN_WEIGHT'] },
  { env: { BLUE: 'http://myapp-v1:8080', BLUE_WEIGHT: '0' }, names: ['BLUE_WEIGHT'] },
  {
    env: {
      BLUE: 'http://user:hunter2@x:bad',
      GREEN_WEIGHT: '50abc',
      PORT: '99999',
      TIMEOUT_CONNECT: '5x',
      LOG_LEVEL: 'loud',
    },
    names: ['BLUE', 'GREEN_WEIGHT', 'PORT', 'TIMEOUT_CONNECT', 'LOG_LEVEL'],
  },
  { env: { BLUE: 'http://a:1', BLUE_FILE: '/dev/null' }, names: ['BLUE, BLUE_FILE'] },
  { env: { BLUE: 'http://a:1', ENV_FILE: '/nonexistent/.env' }, names: ['ENV_FILE'] },
  { env: { COLORS: 'Blue', BLUE: 'http://a:1' }, names: ['COLORS'] },
  { env: { BLUE: 'http://a:1', PORT: '9000', ADMIN_PORT: '9000' }, names: ['PORT, ADMIN_PORT'] },
]

t.test(
  'a bad environment exits 78 within a second, before listening, naming every bad variable',
  async (t) => {
    for (const { env, names } of BAD_ENVIRONMENTS) {
      const began = performance.now()
      const program = start(t, PROXY, { PORT: '0', ADMIN_PORT: '0', ...env })
      const { code } = await program.exit
      const elapsed = performance.now() - began
      const label = JSON.stringify(env)
      t.equal(code, 78, label)
      t.ok(elapsed < 1000, `${label} exited in ${Math.round(elapsed)} ms`)
      t.match(program.stderr(), /^colorproxy: bad configuration, not starting:\n/, label)
      for (const name of names) t.match(program.stderr(), `\n  ${name}: `, `${label} names ${name}`)
      t.notMatch(program.stderr(), /hunter2/, 'never echoes a credential')
      t.same(program.lines, [], 'nothing logged, nothing listening')
    }
  },
)

t.test('a secret read from a *_FILE is never echoed', async (t) => {
  const dir = t.testdir({ weight: 'not-a-number-s3cret\n', green: 'ftp://user:s3cret@host\n' })
  const program = start(t, PROXY, {
    BLUE: 'http://a:1',
    BLUE_WEIGHT_FILE: `${dir}/weight`,
    GREEN_FILE: `${dir}/green`,
  })
  t.equal((await program.exit).code, 78)
  t.match(program.stderr(), /BLUE_WEIGHT: must be a whole number/)
  t.match(program.stderr(), /GREEN: must be an http/)
  t.notMatch(program.stderr(), /s3cret/)
})

t.test('a taken port exits 1 with a one-line reason', async (t) => {
  const taken = await listen(t, net.createServer(), '0.0.0.0')
  const program = start(t, PROXY, { BLUE: 'http://a:1', PORT: String(taken), ADMIN_PORT: '0' })
  t.equal((await program.exit).code, 1)
  t.match(program.stderr(), /^colorproxy: cannot start: .*EADDRINUSE.*another process is using that port\n$/)
})

t.test(
  'a second colorproxy on the same port exits 1, though the first binds it with SO_REUSEPORT',
  async (t) => {
    const up = await recordingUpstream(t)
    const first = await startProxy(t, { BLUE: up.url })
    const port = new URL(first.url).port
    const second = start(t, PROXY, { BLUE: up.url, PORT: port, ADMIN_PORT: '0' })
    const listening = second.line((line) => line.msg === 'listening').then(() => 'listening')
    const outcome = await Promise.race([second.exit.then((exit) => exit.code), listening])
    t.equal(outcome, 1, 'it exits, never listens')
    t.match(second.stderr(), /EADDRINUSE.*another process is using that port/)
    t.equal((await get(first.url)).status, 200, 'the first one serves on')
  },
)

t.test('SIGTERM during a 1.5 s request: the request gets 200, the process exits 0', async (t) => {
  const up = await recordingUpstream(t, (_req, res) => {
    setTimeout(() => res.end('slow but fine'), 1500)
  })
  const proxy = await startProxy(t, { BLUE: up.url, SHUTDOWN_DELAY: '2s', SHUTDOWN_TIMEOUT: '7s' })
  const answer = get(proxy.url, { agent: new http.Agent({ keepAlive: true }) })
  await new Promise<void>((resolve) => up.server.once('request', () => resolve()))
  const began = performance.now()
  proxy.program.child.kill('SIGTERM')
  const { status, body, headers } = await answer
  t.equal(status, 200)
  t.equal(body, 'slow but fine')
  t.equal(headers.connection, 'keep-alive', 'answered during the delay, before draining began')
  const { code } = await proxy.program.exit
  t.equal(code, 0)
  const took = performance.now() - began
  t.ok(took < 9000, `exited after ${Math.round(took)} ms, within SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT`)
  t.match(proxy.program.lines.at(-1), { msg: 'stopped' })
})

t.test('readyz turns 503 on SIGTERM while traffic is still served', async (t) => {
  const up = await recordingUpstream(t)
  const proxy = await startProxy(t, { BLUE: up.url, SHUTDOWN_DELAY: '60s' })
  proxy.program.child.kill('SIGTERM')
  await proxy.program.line((l) => l.msg === 'shutting down: readyz now 503')
  t.equal((await get(`${proxy.admin}/readyz`)).status, 503)
  t.equal((await get(proxy.url)).status, 200)
  proxy.program.child.kill('SIGINT')
  t.equal((await proxy.program.exit).code, 0, 'a second signal skips the rest of the delay')
})

t.test('a SIGTERM during start-up drains; the last line, "stopped", is never lost', async (t) => {
  // Two races, each likely with eight at once: a signal before the handlers were installed killed the
  // process (4 stops in 5), and a line still on its way to stdout at process.exit() was gone (1 in 3).
  // Started through `env -u NODE_OPTIONS`: tap's hook in a child installs its own signal handlers, which
  // would delay an early signal's default action and hide the first race.
  const stops = Array.from({ length: 8 }, async () => {
    const env = cleanEnv({ PORT: '0', ADMIN_PORT: '0', BLUE: 'http://127.0.0.1:1', SHUTDOWN_DELAY: '0s' })
    const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, PROXY], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    t.teardown(() => child.kill('SIGKILL'))
    const lines: { msg?: string }[] = []
    createInterface({ input: child.stdout }).on('line', (line) => {
      // The first line (a color's share) is said before "listening": stop right then.
      if (lines.push(JSON.parse(line)) === 1) child.kill('SIGTERM')
    })
    const [code, signal] = await once(child, 'close')
    return { code, signal, last: lines.at(-1) }
  })
  for (const stop of await Promise.all(stops))
    t.match(stop, { code: 0, signal: null, last: { msg: 'stopped' } })
})

t.test('SIGINT (Ctrl-C) skips the delay', async (t) => {
  const proxy = await startProxy(t, { BLUE: 'http://127.0.0.1:1', SHUTDOWN_DELAY: '60s' })
  proxy.program.child.kill('SIGINT')
  t.equal((await proxy.program.exit).code, 0)
  t.ok(proxy.program.lines.some((l) => l.signal === 'SIGINT'))
  t.match(
    proxy.program.lines.find((l) => 'delay_ms' in l),
    { delay_ms: 0 },
  )
})

t.test(
  'a weight left behind by --env-rm GREEN is logged as a warning and blue takes everything',
  async (t) => {
    const up = await recordingUpstream(t)
    const proxy = await startProxy(t, { BLUE: up.url, BLUE_WEIGHT: '4', GREEN_WEIGHT: '1' })
    t.match(proxy.program.lines[0], {
      level: 40,
      msg: 'GREEN_WEIGHT is set but GREEN is not: green gets no traffic',
    })
    t.match(proxy.program.lines[1], { color: 'blue', share_percent: 100 })
    t.equal((await get(proxy.url)).status, 200)
  },
)

t.test('ENV_FILE and *_FILE feed the configuration; the real environment wins', async (t) => {
  const up = await recordingUpstream(t)
  const dir = t.testdir({
    'proxy.env': `BLUE=${up.url}\nCOLOR_HEADER=X-From-File\nPORT=1\n`,
    header: 'X-Secret-Header\n',
  })
  const proxy = await startProxy(t, { ENV_FILE: `${dir}/proxy.env` })
  await get(proxy.url)
  t.equal(
    up.requests[0]?.headers['x-from-file'],
    'blue',
    'ENV_FILE was read; PORT=0 from the environment won',
  )
  const secret = await startProxy(t, { BLUE: up.url, COLOR_HEADER_FILE: `${dir}/header` })
  await get(secret.url)
  t.equal(up.requests[1]?.headers['x-secret-header'], 'blue')
})

t.test('LOG_FORMAT=pretty prints lines for people', async (t) => {
  const program = start(t, PROXY, {
    BLUE: 'http://127.0.0.1:1',
    PORT: '0',
    ADMIN_PORT: '0',
    LOG_FORMAT: 'pretty',
  })
  await program.line((l) => typeof l.text === 'string' && l.text.includes('listening'))
  t.match(program.lines[0], { text: /INFO.*blue: 100% of new traffic/ })
})

t.test('an address this machine does not have exits 1 with the reason', async (t) => {
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned here, so bind fails and nothing is sent anywhere.
  const program = start(t, PROXY, { BLUE: 'http://a:1', HOST: '192.0.2.1', PORT: '0', ADMIN_PORT: '0' })
  t.equal((await program.exit).code, 1)
  t.match(program.stderr(), /^colorproxy: cannot start: .*EADDRNOTAVAIL.*\n$/)
})

t.test('--help prints every variable, grouped, with defaults, and exits 0; --version too', async (t) => {
  const help = start(t, PROXY, { BLUE: 'not even a URL' }, ['--help'])
  t.match(await help.exit, { code: 0 })
  const text = help.lines.map((line) => line.text).join('\n')
  t.match(text, /^colorproxy \d+\.\d+\.\d+: /)
  for (const part of [
    'Colors:',
    'Timeouts:',
    '  PORT  port 0 – 65535  (default: 8080)',
    'TRUSTED_PROXIES',
    'STATS_PASS',
  ]) {
    t.ok(text.includes(part), part)
  }
  const version = start(t, PROXY, {}, ['--version'])
  t.match(await version.exit, { code: 0 })
  t.match(version.lines, [
    {
      text: new RegExp(
        `^colorproxy \\d+\\.\\d+\\.\\d+ on Node\\.js ${process.version} \\(supported: node >=24\\)$`,
      ),
    },
  ])
})

t.test('any other argument exits 64 with the usage', async (t) => {
  const program = start(t, PROXY, { BLUE: 'http://a:1' }, ['--port', '80'])
  t.match(await program.exit, { code: 64 })
  t.match(program.stderr(), /^colorproxy: unknown argument "--port"\n\ncolorproxy \d/)
  t.same(program.lines, [], 'nothing started')
})

t.test('the startup lines are written at once, not with the next log flush a second later', async (t) => {
  const up = await recordingUpstream(t)
  const port = await refusedPort()
  const program = start(t, PROXY, { BLUE: up.url, PORT: String(port), ADMIN_PORT: '0' })
  // Knock until the port answers (each refusal is an event, not a sleep), then time the line.
  for (;;) {
    const socket = net.connect(port, '127.0.0.1')
    const [event] = await Promise.race([once(socket, 'connect').then(() => ['up']), once(socket, 'error')])
    socket.destroy()
    if (event === 'up') break
  }
  const open = performance.now()
  await program.line((line) => line.msg === 'listening')
  const late = performance.now() - open
  // The log buffer is flushed every second: a line that waited for it comes hundreds of ms late.
  t.ok(late < 300, `the listening line came ${Math.round(late)} ms after the port answered`)
})
