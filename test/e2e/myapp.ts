// The demo backend as a child process, byte for byte as sillyproxy's myapp.
import http from 'node:http'
import { hostname } from 'node:os'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { start, startMyapp } from '../helpers/programs.js'
import { MYAPP } from '../helpers/paths.js'

t.test('plain text: "<color> <name>\\n"', async (t) => {
  const { url } = await startMyapp(t, { HOSTNAME: 'e99a62b52d1d' })
  const blue = await get(url, { headers: { Color: 'blue' } })
  t.equal(blue.body, 'blue e99a62b52d1d\n')
  t.match(blue.headers['content-type'], /^text\/plain/)
  t.equal((await get(`${url}/any/path?x=1`)).body, 'unknown e99a62b52d1d\n', 'no Color header: unknown')
})

t.test('V2: HTML "\\n<h1><name> (<color>)</h1>\\n"', async (t) => {
  const { url } = await startMyapp(t, { HOSTNAME: 'be0dc0efaba2', V2: '1' })
  const green = await get(url, { headers: { Color: 'green' } })
  t.equal(green.body, '\n<h1>be0dc0efaba2 (green)</h1>\n')
  t.match(green.headers['content-type'], /^text\/html/)
  t.equal((await get(url)).body, '\n<h1>be0dc0efaba2 (unknown)</h1>\n')
})

t.test('V2 escapes HTML in the name and the color', async (t) => {
  const { url } = await startMyapp(t, { HOSTNAME: `<b>&"'`, V2: 'yes' })
  t.equal(
    (await get(url, { headers: { Color: '<script>' } })).body,
    '\n<h1>&lt;b&gt;&amp;&#34;&#39; (&lt;script&gt;)</h1>\n',
  )
})

t.test("the name is the machine's hostname when HOSTNAME is unset", async (t) => {
  const { url } = await startMyapp(t)
  t.equal((await get(url)).body, `unknown ${hostname()}\n`)
})

t.test('the address may be given as the first argument, ":port" or "port"', async (t) => {
  for (const arg of [':0', '0']) {
    const program = start(t, MYAPP, { PORT: 'ignored-when-an-argument-is-given' }, [arg])
    const { port } = await program.line((l) => l.msg === 'listening')
    t.equal((await get(`http://127.0.0.1:${port}`)).status, 200, arg)
  }
})

t.test('logs one line per request: method, path, remote address, color', async (t) => {
  const { url, program } = await startMyapp(t)
  await get(`${url}/hello?x=1`, { headers: { Color: 'green' } })
  t.match(await program.line((l) => l.msg === 'request'), {
    method: 'GET',
    path: '/hello?x=1',
    remote: /127\.0\.0\.1/,
    color: 'green',
  })
})

t.test('drains and exits 0 on SIGTERM', async (t) => {
  const { url, program } = await startMyapp(t)
  t.equal((await get(url)).status, 200)
  program.child.kill('SIGTERM')
  program.child.kill('SIGTERM')
  t.equal((await program.exit).code, 0, 'a second signal does not cut the drain short')
  t.match(program.lines.at(-1), { msg: 'stopped', forced: 0 })
})

t.test('the last log line is never lost at exit: every stop ends with "stopped"', async (t) => {
  const apps = await Promise.all(Array.from({ length: 8 }, () => startMyapp(t)))
  for (const { program } of apps) program.child.kill('SIGTERM')
  for (const { program } of apps) {
    t.equal((await program.exit).code, 0)
    t.match(program.lines.at(-1), { msg: 'stopped' })
  }
})

t.test('a bad port or level exits 78 with a reason; a taken port exits 1', async (t) => {
  const bad = start(t, MYAPP, { PORT: 'eighty' })
  t.equal((await bad.exit).code, 78)
  t.match(bad.stderr(), /^myapp: bad port or SHUTDOWN_TIMEOUT: must be a port number/)
  const loud = start(t, MYAPP, { PORT: '0', LOG_LEVEL: 'loud' })
  t.equal((await loud.exit).code, 78)
  t.match(loud.stderr(), /LOG_LEVEL must be one of/)
  const { url } = await startMyapp(t)
  const taken = start(t, MYAPP, { PORT: new URL(url).port })
  t.equal((await taken.exit).code, 1)
  t.match(taken.stderr(), /cannot listen on port \d+: EADDRINUSE/)
})

t.test('LOG_FORMAT=pretty prints lines for people', async (t) => {
  const program = start(t, MYAPP, { PORT: '0', LOG_FORMAT: 'pretty' })
  t.match(await program.line((l) => typeof l.text === 'string'), { text: /INFO.*listening/ })
})

t.test('?delay=<ms> answers the same page later', async (t) => {
  const { url } = await startMyapp(t, { HOSTNAME: 'slow' })
  const began = performance.now()
  t.equal((await get(`${url}/?delay=300`)).body, 'unknown slow\n')
  t.ok(performance.now() - began >= 290, 'it waited')
})

t.test('FAIL_PERCENT and DELAY_MS play a bad release; bad values exit 78', async (t) => {
  const broken = await startMyapp(t, { HOSTNAME: 'bad', FAIL_PERCENT: '100', DELAY_MS: '200' })
  const began = performance.now()
  const answer = await get(broken.url)
  t.ok(performance.now() - began >= 190, 'DELAY_MS delays every answer')
  t.match(answer, { status: 500, body: '500 bad failed (FAIL_PERCENT)\n' })
  const some = await startMyapp(t, { FAIL_PERCENT: '50' })
  const agent = new http.Agent({ keepAlive: true })
  const statuses: number[] = []
  for (let i = 0; i < 200; i++) statuses.push((await get(some.url, { agent })).status)
  agent.destroy()
  const failures = statuses.filter((status) => status === 500).length
  t.equal(failures, 100, 'exactly half fail')
  t.equal(failures + statuses.filter((status) => status === 200).length, 200)
  const bads: Record<string, string>[] = [
    { FAIL_PERCENT: '101' },
    { FAIL_PERCENT: 'x' },
    { DELAY_MS: '-1' },
    { DELAY_MS: '20000' },
  ]
  for (const env of bads) {
    const bad = start(t, MYAPP, { PORT: '0', ...env })
    t.equal((await bad.exit).code, 78, JSON.stringify(env))
    t.match(bad.stderr(), /^myapp: (FAIL_PERCENT|DELAY_MS) must be/)
  }
})
