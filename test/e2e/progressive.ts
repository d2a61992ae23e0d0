// CANARY and MIRROR through a running proxy with real sockets: a healthy green steps 10 → 50 → 100 and is
// promoted, a green that fails 20% of its answers is aborted at the first step and gets nothing after, and
// mirrored copies to a slow green never slow a client.
import http from 'node:http'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { rawUpstream, recordingUpstream } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'

const INTERVAL_MS = 1500

/** Keeps `clients` requests going until stopped; each answer's color and when it came. */
function drive(url: string, clients = 4) {
  const answers: { at: number; color: string; status: number }[] = []
  let stopped = false
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients })
  const loops = Array.from({ length: clients }, async () => {
    while (!stopped) {
      const answer = await get(url, { agent })
      answers.push({ at: Date.now(), color: answer.body.trim(), status: answer.status })
    }
  })
  return {
    answers,
    async stop() {
      stopped = true
      await Promise.all(loops)
      agent.destroy()
    },
  }
}

/** The share (percent) of answers from `color` between two times. */
function share(answers: { at: number; color: string }[], color: string, from: number, to: number): number {
  const within = answers.filter((answer) => answer.at >= from && answer.at < to)
  return (within.filter((answer) => answer.color === color).length / within.length) * 100
}

t.test('a healthy green steps 10 → 50 → 100 within 5 points of each share and is promoted', async (t) => {
  const blue = await recordingUpstream(t, (_req, res) => res.end('blue\n'))
  const green = await recordingUpstream(t, (_req, res) => res.end('green\n'))
  const proxy = await startColorProxy(t, {
    BLUE: blue.url,
    GREEN: green.url,
    CANARY: 'green',
    CANARY_STEPS: '10,50,100',
    CANARY_INTERVAL: `${INTERVAL_MS}ms`,
    LOG_LEVEL: 'info',
  })
  const started = Date.now()
  const load = drive(proxy.url)
  const promoted = await proxy.line((line) => /^canary green promoted/.test(String(line.msg)))
  const changes = proxy.lines.filter((line) => /^canary green (up|promoted)/.test(String(line.msg)))
  await load.stop()
  const times = changes.map((line) => line.time as number)
  t.same(
    changes.map((line) => line.share_percent),
    [50, 100, 100],
  )
  // Each interval's share, a little in from its edges (a request in flight crosses one).
  const edges = [started, ...times]
  const expected = [10, 50, 100]
  expected.forEach((want, i) => {
    const observed = share(load.answers, 'green', (edges[i] as number) + 100, (edges[i + 1] as number) - 50)
    t.ok(Math.abs(observed - want) <= 5, `step ${i + 1}: green ${observed.toFixed(1)}% (want ${want} ± 5)`)
  })
  t.match(promoted, { state: 'promoted', share_percent: 100, site: 'default', color: 'green' })
  const metrics = (await get(`${proxy.admin}/metrics`)).body
  t.match(metrics, /^colorproxy_canary_state\{site="default",color="green",state="promoted"\} 1$/m)
  t.match(metrics, /^colorproxy_canary_state\{site="default",color="green",state="aborted"\} 0$/m)
  t.match(metrics, /^colorproxy_canary_share_percent\{site="default",color="green"\} 100$/m)
  t.equal((await get(`${proxy.admin}/healthz`)).status, 200)
})

t.test('a green failing 20% is aborted within one interval and gets no weighted traffic after', async (t) => {
  const blue = await recordingUpstream(t, (_req, res) => res.end('blue\n'))
  let n = 0
  const green = await recordingUpstream(t, (_req, res) => {
    res.statusCode = n++ % 5 === 0 ? 500 : 200
    res.end('green\n')
  })
  const proxy = await startColorProxy(t, {
    BLUE: blue.url,
    GREEN: green.url,
    CANARY: 'green',
    CANARY_STEPS: '25,50,100',
    CANARY_INTERVAL: `${INTERVAL_MS}ms`,
    CANARY_ABORT_HEALTH: 'true',
    STICKY: 'cookie',
    OVERRIDE_HEADER: 'X-Color',
    LOG_LEVEL: 'info',
  })
  const started = Date.now()
  const load = drive(proxy.url)
  const aborted = await proxy.line((line) => /^canary green aborted/.test(String(line.msg)))
  const abortedAt = aborted.time as number
  t.ok(abortedAt - started < INTERVAL_MS + 700, `aborted ${abortedAt - started} ms after the start`)
  t.match(aborted, {
    msg: /^canary green aborted at 25%: error rate \d+(\.\d)?% > 1% over \d+ answers$/,
    state: 'aborted',
    share_percent: 0,
    answers: Number,
    failures: Number,
  })
  const before = green.requests.length
  await new Promise((resolve) => setTimeout(resolve, 500))
  await load.stop()
  t.equal(
    green.requests.length - before <= 4,
    true,
    'at most the requests in flight at the abort reached green',
  )
  t.equal(share(load.answers, 'green', abortedAt + 100, Date.now()), 0, 'no green answer after the abort')
  const sticky = await get(proxy.url, { headers: { cookie: 'colorproxy=green' } })
  t.equal(sticky.body, 'blue\n', 'a client the cookie kept on green goes back to the baseline')
  t.match(sticky.headers['set-cookie'], [/^colorproxy=blue;/])
  t.equal((await get(proxy.url, { headers: { 'x-color': 'green' } })).body, 'green\n', 'QA still reaches it')
  t.match(await get(`${proxy.admin}/healthz`), { status: 503, body: 'canary aborted\n' })
  t.match(
    (await get(`${proxy.admin}/metrics`)).body,
    /^colorproxy_canary_state\{site="default",color="green",state="aborted"\} 1$/m,
  )
})

t.test('MIRROR: copies to a slow green never slow a client, and are counted', async (t) => {
  const blue = await recordingUpstream(t, (_req, res) => res.end('blue\n'))
  const green = await recordingUpstream(t, (_req, res) => {
    setTimeout(() => res.end('green\n'), 2000)
  })
  const env = { BLUE: blue.url, GREEN: green.url, GREEN_WEIGHT: '0' }
  const plain = await startColorProxy(t, env)
  const mirrored = await startColorProxy(t, { ...env, MIRROR: 'green', MIRROR_MAX_IN_FLIGHT: '50' })
  const p99 = async (url: string) => {
    const agent = new http.Agent({ keepAlive: true })
    const times: number[] = []
    const bodies = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const began = performance.now()
      bodies.add((await get(url, { agent })).body)
      times.push(performance.now() - began)
    }
    agent.destroy()
    t.same([...bodies], ['blue\n'], 'every client answer is blue')
    return times.sort((a, b) => a - b)[197] as number
  }
  const off = await p99(plain.url)
  const on = await p99(mirrored.url)
  t.ok(on < off * 3 + 20, `client p99 with mirroring ${on.toFixed(1)} ms, without ${off.toFixed(1)} ms`)
  t.equal(await get(mirrored.url, { method: 'POST', body: 'x' }).then((answer) => answer.status), 200)
  // Every copy still out answers within 2 s; then the counts are final.
  await new Promise((resolve) => setTimeout(resolve, 2500))
  const metrics = (await get(`${mirrored.admin}/metrics`)).body
  const copies = Number(
    /^colorproxy_mirrored_total\{site="default",color="green",code="200"\} (\d+)$/m.exec(metrics)?.[1],
  )
  const skipped = Number(
    /^colorproxy_mirrored_total\{site="default",color="green",code="skipped"\} (\d+)$/m.exec(metrics)?.[1],
  )
  t.equal(copies, green.requests.length, 'every copy green got is counted')
  t.ok(copies >= 50, `${copies} copies`)
  t.equal(copies + skipped, 200, 'each GET was copied or skipped past MIRROR_MAX_IN_FLIGHT; the POST was not')
  t.equal(green.requests[0]?.headers.color, 'green')
})

t.test(
  'a dark launch: CANARY_STEPS=0,… judges green on mirrored answers before any client sees it',
  async (t) => {
    const blue = await recordingUpstream(t, (_req, res) => res.end('blue\n'))
    const failing = await recordingUpstream(t, (_req, res) => {
      res.statusCode = 503
      res.end('green\n')
    })
    const env = {
      BLUE: blue.url,
      CANARY: 'green',
      MIRROR: 'green',
      CANARY_STEPS: '0,100',
      CANARY_INTERVAL: `${INTERVAL_MS}ms`,
      CANARY_MIN_REQUESTS: '5',
      LOG_LEVEL: 'info',
    }
    const dark = await startColorProxy(t, { ...env, GREEN: failing.url })
    const load = drive(dark.url, 2)
    const aborted = await dark.line((line) => /^canary green aborted/.test(String(line.msg)))
    await load.stop()
    t.match(aborted.msg, /^canary green aborted at 0%: error rate 100% > 1% over \d+ answers$/)
    t.ok(failing.requests.length >= 5, `green got ${failing.requests.length} copies`)
    t.same(new Set(load.answers.map((answer) => answer.color)), new Set(['blue']), 'no client ever saw green')

    // A healthy green, and clients that send what a canary must never be blamed for: 4xx, malformed requests.
    const healthy = await recordingUpstream(t, (req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : 200
      res.end('green\n')
    })
    const proxy = await startColorProxy(t, { ...env, GREEN: healthy.url, CANARY_STEPS: '0,50' })
    const agent = new http.Agent({ keepAlive: true })
    const { rawConnection } = await import('../helpers/clients.js')
    const promoted = proxy.line((line) => /^canary green promoted/.test(String(line.msg)))
    let stop = false
    const noise = (async () => {
      while (!stop) {
        await get(`${proxy.url}/missing`, { agent })
        const raw = rawConnection(proxy.port)
        raw.socket.write('GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')
        await raw.closed()
      }
    })()
    t.match(await promoted, { share_percent: 50, msg: /^canary green promoted at 50%: error rate 0% / })
    stop = true
    await noise
    agent.destroy()
  },
)

t.test(
  'a mirrored answer that is large and closes its connection at once never crashes the proxy',
  async (t) => {
    // The copy's answer arrives with its headers, more than a stream buffers, and the upstream's FIN: had
    // its body been left to wait, undici 7 would assert when the FIN came (nodejs/undici#5360).
    const blue = await recordingUpstream(t, (_req, res) => res.end('blue\n'))
    const big = 'Z'.repeat(256 * 1024)
    const green = await rawUpstream(t, (_head, socket) => {
      socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\nConnection: close\r\n\r\n${big}`)
    })
    const proxy = await startColorProxy(t, {
      BLUE: blue.url,
      GREEN: green.url,
      GREEN_WEIGHT: '0',
      MIRROR: 'green',
    })
    for (let i = 0; i < 5; i++) t.equal((await get(`${proxy.url}/`)).body, 'blue\n')
    const counted = /^colorproxy_mirrored_total\{site="default",color="green",code="200"\} (\d+)$/m
    let copies = 0
    while (copies < 5) copies = Number(counted.exec((await get(`${proxy.admin}/metrics`)).body)?.[1] ?? 0)
    t.equal(copies, 5, 'every copy answered and counted')
    t.equal((await get(`${proxy.url}/`)).body, 'blue\n', 'and the proxy still serves')
  },
)
