import { once } from 'node:events'
import http from 'node:http'
import t, { type Test } from 'tap'
import { joinPath } from '../../src/forward/headers.js'
import { redactUrl } from '../../src/config/redact.js'
import { type Address, type Endpoint, Upstream } from '../../src/upstream/color-pools.js'
import { recordingUpstream } from '../helpers/upstreams.js'

/** A request through an endpoint's own pool, as the proxy sends it (or on a connection of its own). */
function through(endpoint: Endpoint, path = '/', fresh = false) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    let body = ''
    let status = 0
    const request = {
      path: joinPath(endpoint.target.pathname, path),
      method: 'GET',
      headers: ['host', 'x'],
      headersTimeout: 5000,
      bodyTimeout: 5000,
    }
    const handler = {
      onConnect: () => {},
      onHeaders: (statusCode: number) => {
        status = statusCode
      },
      onData: (chunk: Buffer) => ((body += chunk), true),
      onComplete: () => resolve({ status, body }),
      onError: reject,
    }
    if (fresh) endpoint.pool().fresh(request, handler)
    else endpoint.pool().dispatch(request, handler)
  })
}

const clock = () => {
  let now = 1000
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms
    },
  }
}

t.test('an IP literal needs no resolver and keeps one pool', async (t) => {
  const up = await recordingUpstream(t)
  const upstream = new Upstream(new URL(up.url), {
    maxSocketAgeMs: 30000,
    keepAliveMs: 4000,
    resolveEveryMs: 5000,
    connectTimeoutMs: 5000,
    resolve: () => t.fail('no lookup for an address') as never,
  })
  t.teardown(() => upstream.close())
  for (let i = 0; i < 20; i++) t.equal((await through(await upstream.endpoint())).body, 'ok')
  // undici may open a second connection while the first is still finishing its answer.
  t.ok(up.connections <= 2, `20 sequential requests share pooled connections (${up.connections})`)
  t.same(upstream.addresses, ['127.0.0.1'])
})

t.test('requests are spread over every address the name resolves to', async (t) => {
  // Both 127.0.0.1 and 127.0.0.2 are loopback: one server on 0.0.0.0 sees which one was dialled.
  const up = await recordingUpstream(t)
  up.server.close()
  const server = http.createServer((req, res) => res.end(req.socket.localAddress))
  server.listen(up.port, '0.0.0.0')
  await new Promise((resolve) => server.once('listening', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const lookups: string[] = []
  const upstream = new Upstream(new URL(`http://tasks.myapp-v1:${up.port}/`), {
    maxSocketAgeMs: 30000,
    keepAliveMs: 4000,
    resolveEveryMs: 5000,
    connectTimeoutMs: 5000,
    resolve: async (name) => {
      lookups.push(name)
      return [
        { address: '127.0.0.1', family: 4 },
        { address: '127.0.0.2', family: 4 },
      ]
    },
  })
  t.teardown(() => upstream.close())
  const seen: string[] = []
  for (let i = 0; i < 6; i++)
    seen.push((await through(await upstream.endpoint())).body.replace('::ffff:', ''))
  t.same(seen, ['127.0.0.1', '127.0.0.2', '127.0.0.1', '127.0.0.2', '127.0.0.1', '127.0.0.2'])
  t.same(lookups, ['tasks.myapp-v1'], 'resolved once within UPSTREAM_RESOLVE_EVERY')
})

t.test('the name is resolved again every resolveEveryMs; gone addresses leave the rotation', async (t) => {
  const time = clock()
  const answers: Address[][] = [
    [{ address: '127.0.0.1', family: 4 }],
    [
      { address: '127.0.0.1', family: 4 },
      { address: '127.0.0.2', family: 4 },
    ],
    [{ address: '127.0.0.2', family: 4 }],
  ]
  let lookups = 0
  const upstream = new Upstream(new URL('http://tasks.myapp:8080'), {
    maxSocketAgeMs: 30000,
    keepAliveMs: 4000,
    resolveEveryMs: 5000,
    connectTimeoutMs: 5000,
    now: time.now,
    resolve: async () => answers[Math.min(lookups++, answers.length - 1)] ?? [],
  })
  t.teardown(() => upstream.close())
  await upstream.endpoint()
  t.same(upstream.addresses, ['127.0.0.1'])
  time.advance(4999)
  await upstream.endpoint()
  t.equal(lookups, 1, 'not yet')
  time.advance(1)
  const first = upstream.endpoint()
  await first
  // The refresh runs beside the request; the next one sees its answer.
  await upstream.endpoint()
  t.same(upstream.addresses, ['127.0.0.1', '127.0.0.2'])
  t.equal(lookups, 2)
  time.advance(5000)
  await upstream.endpoint()
  await upstream.endpoint()
  t.same(upstream.addresses, ['127.0.0.2'])
})

t.test(
  'a failed re-resolution keeps the addresses it had; a first one fails the request (502)',
  async (t) => {
    const time = clock()
    let fail = false
    const upstream = new Upstream(new URL('http://myapp:8080'), {
      maxSocketAgeMs: 30000,
      keepAliveMs: 4000,
      resolveEveryMs: 10,
      connectTimeoutMs: 5000,
      now: time.now,
      resolve: async () => {
        if (fail) throw Object.assign(new Error('getaddrinfo ENOTFOUND myapp'), { code: 'ENOTFOUND' })
        return [{ address: '127.0.0.1', family: 4 }]
      },
    })
    t.teardown(() => upstream.close())
    await upstream.endpoint()
    fail = true
    time.advance(10)
    t.equal((await upstream.endpoint()).address, '127.0.0.1')
    await upstream.endpoint()
    t.same(upstream.addresses, ['127.0.0.1'])

    const never = new Upstream(new URL('http://nowhere:8080'), {
      maxSocketAgeMs: 30000,
      keepAliveMs: 4000,
      resolveEveryMs: 10,
      connectTimeoutMs: 5000,
      resolve: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere'), { code: 'ENOTFOUND' })
      },
    })
    await t.rejects(never.endpoint(), { code: 'ENOTFOUND' })
    const empty = new Upstream(new URL('http://empty:8080'), {
      maxSocketAgeMs: 1,
      keepAliveMs: 4000,
      resolveEveryMs: 10,
      connectTimeoutMs: 5000,
      resolve: async () => [],
    })
    await t.rejects(empty.endpoint(), { code: 'ENOTFOUND' }, 'a name with no address is a DNS failure too')
  },
)

t.test('IPv4 is preferred when a name has both; IPv6-only names use IPv6', async (t) => {
  const both = new Upstream(new URL('http://localhost:81'), {
    maxSocketAgeMs: 1,
    keepAliveMs: 4000,
    resolveEveryMs: 10,
    connectTimeoutMs: 5000,
    resolve: async () => [
      { address: '::1', family: 6 },
      { address: '127.0.0.1', family: 4 },
    ],
  })
  t.equal((await both.endpoint()).target.host, '127.0.0.1:81')
  t.equal(
    (
      await new Upstream(new URL('http://127.0.0.1'), {
        maxSocketAgeMs: 1,
        keepAliveMs: 4000,
        resolveEveryMs: 1,
        connectTimeoutMs: 5000,
      }).endpoint()
    ).target.port,
    80,
  )
  const v6 = new Upstream(new URL('http://v6only:81/base'), {
    maxSocketAgeMs: 1,
    keepAliveMs: 4000,
    resolveEveryMs: 10,
    connectTimeoutMs: 5000,
    resolve: async () => [{ address: '::1', family: 6 }],
  })
  t.equal((await v6.endpoint()).target.href, 'http://[::1]:81/base')
  t.same(
    new Upstream(new URL('http://[::1]:82'), {
      maxSocketAgeMs: 1,
      keepAliveMs: 4000,
      resolveEveryMs: 1,
      connectTimeoutMs: 5000,
    }).addresses,
    ['::1'],
  )
})

/** One request: its connection is back in the pool by the time its answer is complete. */
async function settled(endpoint: Endpoint) {
  await through(endpoint)
}

/** An upstream that records which connection every request came on (numbered from 1, in opening order). */
async function connectionRecordingUpstream(t: Test) {
  const numbers = new WeakMap<object, number>()
  const closed: Promise<unknown>[] = []
  const came: number[] = []
  const up = await recordingUpstream(t, (req, res) => {
    came.push(numbers.get(req.socket) as number)
    res.end('ok')
  })
  up.server.on('connection', (socket) => {
    numbers.set(socket, closed.length + 1)
    closed.push(once(socket, 'close'))
  })
  return Object.assign(up, { came, closed })
}

/** An upstream with 30 s connections on a test clock, random() pinned. */
function agedUpstream(url: string, now: () => number, share: number): Upstream {
  return new Upstream(new URL(url), {
    maxSocketAgeMs: 30000,
    keepAliveMs: 4000,
    resolveEveryMs: 5000,
    connectTimeoutMs: 5000,
    now,
    random: () => share,
  })
}

t.test(
  'a connection older than its age limit serves one last request, closes, and a new one takes over',
  async (t) => {
    const time = clock()
    const up = await connectionRecordingUpstream(t)
    const upstream = agedUpstream(up.url, time.now, 0)
    t.teardown(() => upstream.close())
    const endpoint = await upstream.endpoint()
    await settled(endpoint)
    time.advance(29999)
    await settled(endpoint)
    t.same(up.came, [1, 1], 'the same connection while younger than 30 s')
    time.advance(1)
    await settled(endpoint)
    await up.closed[0]
    t.pass('its request at 30 s was its last: it closed after the answer')
    await settled(endpoint)
    t.same(up.came, [1, 1, 1, 2], 'and the next request came on a new connection')
  },
)

t.test('each connection draws its own age limit, from half maxSocketAgeMs to all of it', async (t) => {
  // Connections opened together draw apart, so they are retired one at a time rather than all at once.
  for (const [share, limit] of [
    [1, 15000],
    [0.5, 22500],
  ] as const) {
    const time = clock()
    const up = await connectionRecordingUpstream(t)
    const upstream = agedUpstream(up.url, time.now, share)
    const endpoint = await upstream.endpoint()
    await settled(endpoint)
    time.advance(limit - 1)
    await settled(endpoint)
    time.advance(1)
    await settled(endpoint)
    await up.closed[0]
    await settled(endpoint)
    upstream.close()
    t.same(up.came, [1, 1, 1, 2], `random() ${share}: connection 1 retired at ${limit} ms`)
  }
})

t.test('an idle connection closes after keepAliveMs', async (t) => {
  const up = await recordingUpstream(t)
  const closed: Promise<unknown>[] = []
  up.server.on('connection', (socket) => closed.push(once(socket, 'close')))
  const upstream = new Upstream(new URL(up.url), {
    maxSocketAgeMs: 30000,
    keepAliveMs: 100,
    resolveEveryMs: 5000,
    connectTimeoutMs: 5000,
  })
  t.teardown(() => upstream.close())
  const start = Date.now()
  await through(await upstream.endpoint())
  await closed[0]
  t.ok(Date.now() - start >= 100, 'closed by colorproxy once idle for keepAliveMs')
})

t.test('fresh() sends its one request on a new connection, which then closes', async (t) => {
  const up = await recordingUpstream(t)
  const closed: Promise<unknown>[] = []
  up.server.on('connection', (socket) => closed.push(once(socket, 'close')))
  const upstream = new Upstream(new URL(up.url), {
    maxSocketAgeMs: 30000,
    keepAliveMs: 4000,
    resolveEveryMs: 5000,
    connectTimeoutMs: 5000,
  })
  t.teardown(() => upstream.close())
  const endpoint = await upstream.endpoint()
  await through(endpoint)
  const { body } = await through(endpoint, '/', true)
  t.equal(body, 'ok')
  t.equal(up.connections, 2, 'a second connection')
  await closed[1]
  t.pass('closed after its request')
})

t.test('close() drops idle pooled sockets', async (t) => {
  const up = await recordingUpstream(t)
  const closed: Promise<unknown>[] = []
  up.server.on('connection', (socket) => closed.push(once(socket, 'close')))
  const upstream = new Upstream(new URL(up.url), {
    maxSocketAgeMs: 30000,
    keepAliveMs: 4000,
    resolveEveryMs: 5000,
    connectTimeoutMs: 5000,
  })
  const endpoint = await upstream.endpoint()
  await through(endpoint)
  t.equal(closed.length, 1, 'one pooled connection')
  upstream.close()
  await closed[0]
  t.pass('closed')
})

t.test('credentials become basic auth and are never shown', async (t) => {
  const upstream = new Upstream(new URL('http://us%40er:p%3Ass@myapp:8080/base'), {
    maxSocketAgeMs: 1,
    keepAliveMs: 4000,
    resolveEveryMs: 1,
    connectTimeoutMs: 5000,
  })
  t.equal(upstream.auth, 'us@er:p:ss')
  t.equal(upstream.redacted, 'http://***@myapp:8080/base')
  t.equal(upstream.host, 'myapp:8080')
  t.equal(
    new Upstream(new URL('http://myapp:8080/'), {
      maxSocketAgeMs: 1,
      keepAliveMs: 4000,
      resolveEveryMs: 1,
      connectTimeoutMs: 5000,
    }).auth,
    undefined,
  )
  t.equal(redactUrl(new URL('https://only-user@h')), 'https://***@h')
  t.equal(redactUrl(new URL('http://h:1/')), 'http://h:1')
})

t.test('https upstreams verify the certificate against the name, not the address', async (t) => {
  const upstream = new Upstream(new URL('https://secure.example'), {
    maxSocketAgeMs: 1,
    keepAliveMs: 4000,
    resolveEveryMs: 1,
    connectTimeoutMs: 5000,
    resolve: async () => [{ address: '127.0.0.1', family: 4 }],
  })
  const endpoint = await upstream.endpoint()
  t.equal(endpoint.target.href, 'https://127.0.0.1:443/')
  t.equal(endpoint.target.port, 443, 'a default port is a number, never 0')
  t.match(endpoint.pool().destination, {
    address: '127.0.0.1',
    port: 443,
    connectTimeoutMs: 5000,
    tls: { servername: 'secure.example' },
  })
  t.match((endpoint.freshAgent as unknown as { options: object }).options, { servername: 'secure.example' })
})

t.test('the system resolver: http://localhost reaches a server on 127.0.0.1', async (t) => {
  const up = await recordingUpstream(t)
  const upstream = new Upstream(new URL(`http://localhost:${up.port}`), {
    maxSocketAgeMs: 30000,
    keepAliveMs: 4000,
    resolveEveryMs: 5000,
    connectTimeoutMs: 5000,
  })
  t.teardown(() => upstream.close())
  const endpoint = await upstream.endpoint()
  t.equal(endpoint.address, '127.0.0.1', 'IPv4 preferred over ::1')
  t.equal((await through(endpoint)).body, 'ok')
})
