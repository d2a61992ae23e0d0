// PROXY_PROTOCOL and MAX_CONNECTIONS_PER_CLIENT (the issue "One client, bounded", items 5 and 6): raw bytes
// in, and what the backend and the client got.
import { once } from 'node:events'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import {
  Command,
  IPv4Address,
  IPv4ProxyAddress,
  IPv6Address,
  IPv6ProxyAddress,
  TransportProtocol,
  UnspecProxyAddress,
  V2ProxyProtocol,
} from 'proxy-protocol-js'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { recordingUpstream } from '../helpers/upstreams.js'
import { startColorProxy } from '../helpers/proxy.js'
import { selfSignedCertificate } from '../helpers/tls.js'

const V1 = 'PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n'

function v2(source: [number, number, number, number]): Buffer {
  const address = new IPv4ProxyAddress(
    IPv4Address.createFrom(source),
    40000,
    IPv4Address.createFrom([127, 0, 0, 1]),
    80,
  )
  return Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, address).build())
}

/** Connects (from `localAddress`), sends `bytes`, and resolves everything it got once closed. */
async function send(port: number, bytes: Buffer | string, localAddress = '127.0.0.1'): Promise<string> {
  const socket = netConnect({ port, host: '127.0.0.1', localAddress })
  let text = ''
  socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk))
  socket.on('error', () => {})
  socket.write(bytes)
  await once(socket, 'close')
  return text
}

const GET = 'GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'

t.test('PROXY v1 and v2 from a trusted peer name the client the backend sees', async (t) => {
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, {
    BLUE: upstream.url,
    PROXY_PROTOCOL: 'true',
    TRUSTED_PROXIES: '127.0.0.1',
  })
  t.match(await send(proxy.port, V1 + GET), /^HTTP\/1\.1 200 /)
  t.match(await send(proxy.port, Buffer.concat([v2([203, 0, 113, 7]), Buffer.from(GET)])), /^HTTP\/1\.1 200 /)
  t.same(
    upstream.requests.map((request) => request.headers['x-forwarded-for']),
    ['203.0.113.7', '203.0.113.7'],
  )
  const line = await proxy.line((l) => l.msg === 'request')
  t.equal(line.client, '203.0.113.7', 'the access log names it too')
})

t.test('PROXY v1 TCP6 and v2 IPv6 name an IPv6 client; UNKNOWN and LOCAL keep the peer', async (t) => {
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, {
    BLUE: upstream.url,
    PROXY_PROTOCOL: 'true',
    TRUSTED_PROXIES: '127.0.0.1',
  })
  const six = new IPv6ProxyAddress(
    IPv6Address.createFrom([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07]),
    40000,
    IPv6Address.createFrom([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
    80,
  )
  const local = new V2ProxyProtocol(Command.LOCAL, TransportProtocol.UNSPEC, new UnspecProxyAddress())
  for (const bytes of [
    Buffer.from(`PROXY TCP6 2001:db8::7 ::1 40000 80\r\n${GET}`),
    Buffer.concat([
      Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, six).build()),
      Buffer.from(GET),
    ]),
    Buffer.from(`PROXY UNKNOWN\r\n${GET}`),
    Buffer.concat([Buffer.from(local.build()), Buffer.from(GET)]),
  ]) {
    t.match(await send(proxy.port, bytes), /^HTTP\/1\.1 200 /)
  }
  t.same(
    upstream.requests.map((request) => request.headers['x-forwarded-for']),
    ['2001:db8::7', '2001:db8::7', '127.0.0.1', '127.0.0.1'],
  )
})

t.test('the rate limit keys by the address the PROXY header names', async (t) => {
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, {
    BLUE: upstream.url,
    PROXY_PROTOCOL: 'true',
    TRUSTED_PROXIES: '127.0.0.1',
    RATE_LIMIT: '1',
    RATE_LIMIT_BURST: '1',
  })
  t.match(await send(proxy.port, V1 + GET), /^HTTP\/1\.1 200 /)
  t.match(await send(proxy.port, V1 + GET), /^HTTP\/1\.1 429 /, '203.0.113.7 spent its burst')
  const other = Buffer.concat([v2([203, 0, 113, 8]), Buffer.from(GET)])
  t.match(await send(proxy.port, other), /^HTTP\/1\.1 200 /, '203.0.113.8 has its own')
})

t.test('a PROXY header from an untrusted peer is refused; a trusted peer without one too', async (t) => {
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, {
    BLUE: upstream.url,
    PROXY_PROTOCOL: 'true',
    TRUSTED_PROXIES: '127.0.0.1',
  })
  t.equal(await send(proxy.port, V1 + GET, '127.0.0.2'), '', 'v1 from 127.0.0.2: closed, no answer')
  t.equal(
    await send(proxy.port, Buffer.concat([v2([203, 0, 113, 7]), Buffer.from(GET)]), '127.0.0.2'),
    '',
    'v2 from 127.0.0.2: closed',
  )
  t.match(await send(proxy.port, GET, '127.0.0.2'), /^HTTP\/1\.1 200 /, 'plain HTTP from it is served')
  t.equal(await send(proxy.port, GET), '', 'the trusted peer without a header: closed')
  t.equal(await send(proxy.port, 'PROXY TCP4 nonsense\r\n' + GET), '', 'a header that does not parse: closed')
  t.same(
    upstream.requests.map((request) => request.headers['x-forwarded-for']),
    ['127.0.0.2'],
  )
  const metrics = (await get(`${proxy.admin}/metrics`)).body
  t.match(metrics, /colorproxy_client_connections_refused_total\{reason="proxy_protocol"\} 4\n/)
})

t.test('a PROXY header in pieces is read whole; one too long, cut short or late is refused', async (t) => {
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, {
    BLUE: upstream.url,
    PROXY_PROTOCOL: 'true',
    TRUSTED_PROXIES: '127.0.0.1',
    TIMEOUT_CLIENT: '300ms',
  })
  const pieces = async (parts: (string | Buffer)[], localAddress = '127.0.0.1') => {
    const socket = netConnect({ port: proxy.port, host: '127.0.0.1', localAddress })
    let text = ''
    socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk))
    socket.on('error', () => {})
    const closed = once(socket, 'close')
    await once(socket, 'connect')
    for (const part of parts) {
      socket.write(part)
      // Apart, so that the proxy reads each piece on its own.
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await closed
    return text
  }
  const header = v2([203, 0, 113, 9])
  t.match(await pieces(['PROXY TCP4 203.0.113.9', ` 127.0.0.1 40000 80\r\n${GET}`]), /^HTTP\/1\.1 200 /)
  t.match(
    await pieces([header.subarray(0, 5), header.subarray(5, 14), header.subarray(14), GET]),
    /^HTTP\/1\.1 200 /,
  )
  t.match(
    await pieces(['GE', 'T /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], '127.0.0.2'),
    /^HTTP\/1\.1 200 /,
  )
  t.equal(
    await pieces(['\r\n\r\n', '\0\r\nQUIT\n!'], '127.0.0.2'),
    '',
    'a v2 signature in pieces from an untrusted peer',
  )
  t.equal(await pieces([`PROXY ${'x'.repeat(120)}`]), '', 'a v1 line past 107 bytes')
  t.equal(
    await pieces([`PROXY TCP4 ${'1'.repeat(100)} 127.0.0.1 1 2\r\n`]),
    '',
    'a v1 line ending past 107 bytes',
  )
  const huge = Buffer.from(header)
  huge.writeUInt16BE(60000, 14)
  t.equal(await pieces([huge]), '', 'a v2 header longer than any address block')
  const bad = Buffer.from(header)
  bad[12] = 0x31
  t.equal(await pieces([bad, GET]), '', 'a v2 header of another version')
  t.equal(
    await pieces(['PROXY TCP4 unknown-host 127.0.0.1 1 2\r\n', GET]),
    '',
    'a v1 source that is no address',
  )
  t.equal(await pieces([]), '', 'nothing within TIMEOUT_CLIENT')
  const refused = async () =>
    Number(
      /client_connections_refused_total\{reason="proxy_protocol"\} (\d+)/.exec(
        (await get(`${proxy.admin}/metrics`)).body,
      )?.[1],
    )
  const before = await refused()
  const gone = netConnect(proxy.port, '127.0.0.1')
  gone.on('error', () => {})
  await once(gone, 'connect')
  gone.write('PROXY TCP4 203.0.1', () => gone.resetAndDestroy())
  await once(gone, 'close')
  // The proxy hears the close a moment after the client: counted then.
  while ((await refused()) === before) await new Promise((resolve) => setImmediate(resolve))
  t.equal(await refused(), before + 1, 'a peer that resets mid-header is refused and counted too')
  t.equal(upstream.requests.length, 3)
})

t.test('a PROXY header before a TLS handshake names the client of an HTTPS request', async (t) => {
  const upstream = await recordingUpstream(t)
  const site = selfSignedCertificate('localhost')
  const proxy = await startColorProxy(t, {
    BLUE: upstream.url,
    PROXY_PROTOCOL: 'true',
    TRUSTED_PROXIES: '127.0.0.1',
    TLS_CERT: site.cert,
    TLS_KEY: site.key,
  })
  const raw = netConnect({ port: proxy.httpsPort, host: '127.0.0.1' })
  await once(raw, 'connect')
  raw.write(V1)
  const secure = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false })
  await once(secure, 'secureConnect')
  let text = ''
  secure.setEncoding('latin1').on('data', (chunk: string) => (text += chunk))
  secure.write(GET)
  await once(secure, 'close')
  t.match(text, /^HTTP\/1\.1 200 /)
  t.equal(upstream.requests[0]?.headers['x-forwarded-for'], '203.0.113.7')
})

t.test('MAX_CONNECTIONS_PER_CLIENT=10: the 11th connection from one address is closed', async (t) => {
  const upstream = await recordingUpstream(t)
  const proxy = await startColorProxy(t, { BLUE: upstream.url, MAX_CONNECTIONS_PER_CLIENT: '10' })
  const open: Socket[] = []
  t.teardown(() => open.forEach((socket) => socket.destroy()))
  for (let i = 0; i < 10; i++) {
    const socket = netConnect(proxy.port, '127.0.0.1')
    open.push(socket)
    let text = ''
    socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk))
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    await once(socket, 'data')
    t.match(text, /^HTTP\/1\.1 200 /, `connection ${i + 1} is served and kept`)
  }
  t.equal(await send(proxy.port, GET), '', 'the 11th is closed at accept')
  t.match(await send(proxy.port, GET, '127.0.0.2'), /^HTTP\/1\.1 200 /, 'another address connects')
  open.pop()?.destroy()
  let served = ''
  // Its close reaches the proxy a moment later: the next connection from the address is served then.
  while (served === '') served = await send(proxy.port, GET)
  t.match(served, /^HTTP\/1\.1 200 /, 'one closed: room for one more')
  const metrics = (await get(`${proxy.admin}/metrics`)).body
  t.match(metrics, /colorproxy_client_connections_refused_total\{reason="per_client_limit"\} [1-9]/)
})

t.test('PROXY_PROTOCOL=true without TRUSTED_PROXIES exits 78 naming both', async (t) => {
  await t.rejects(startColorProxy(t, { BLUE: 'http://127.0.0.1:1', PROXY_PROTOCOL: 'true' }), {
    message: /PROXY_PROTOCOL, TRUSTED_PROXIES/,
  })
})
