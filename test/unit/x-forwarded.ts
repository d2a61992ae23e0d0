// Who the client is and what X-Forwarded-* say, for an untrusted and a trusted peer.
import type { IncomingMessage } from 'node:http'
import t from 'tap'
import { createForwardedReader } from '../../src/forward/x-forwarded.js'
import { parseTrustedProxies } from '../../src/config/validators.js'

const request = (peer: string | undefined, headers: Record<string, string | string[]> = {}) =>
  ({ socket: { remoteAddress: peer }, headers }) as unknown as IncomingMessage

t.test('TRUSTED_PROXIES parses addresses and CIDRs of both families', async (t) => {
  t.equal(parseTrustedProxies(''), undefined)
  t.equal(parseTrustedProxies(' , '), undefined)
  const list = parseTrustedProxies('10.0.0.0/8, 192.168.1.7 ,::1,fd00::/8') as NonNullable<
    ReturnType<typeof parseTrustedProxies>
  >
  t.ok(list.check('10.9.9.9', 'ipv4'))
  t.ok(list.check('192.168.1.7', 'ipv4'))
  t.notOk(list.check('192.168.1.8', 'ipv4'))
  t.ok(list.check('fd00::1', 'ipv6'))
  for (const bad of ['10.0.0.0/33', '::/129', 'lb', '10.0.0.1/8/1', '10.0.0.0/x', '1.2.3.4/']) {
    t.throws(() => parseTrustedProxies(bad), /addresses and CIDRs/, bad)
  }
})

t.test("from an untrusted peer, X-Forwarded-* are the edge's own", async (t) => {
  const forwarded = createForwardedReader(undefined)
  const given = { host: 'shop.example:8443', 'x-forwarded-for': '1.2.3.4', 'x-forwarded-host': 'evil' }
  t.same(forwarded(request('203.0.113.9', given), 'http'), {
    client: '203.0.113.9',
    for: '203.0.113.9',
    host: 'shop.example:8443',
    proto: 'http',
    port: '8443',
  })
  t.match(forwarded(request('::ffff:198.51.100.1', {}), 'https'), {
    client: '198.51.100.1',
    host: '',
    proto: 'https',
    port: '443',
  })
  t.match(forwarded(request(undefined), 'http'), { client: '', for: '' })
  const trusted = createForwardedReader(parseTrustedProxies('10.0.0.0/8'))
  t.match(trusted(request('203.0.113.9', given), 'http'), { client: '203.0.113.9', for: '203.0.113.9' })
})

t.test('from a trusted peer they are kept, appended to, and name the client', async (t) => {
  const forwarded = createForwardedReader(parseTrustedProxies('10.0.0.0/8,::1'))
  t.same(
    forwarded(
      request('::ffff:10.0.0.2', {
        host: 'x',
        'x-forwarded-for': '198.51.100.7, 10.0.0.9',
        'x-forwarded-host': 'shop.example',
        'x-forwarded-proto': 'https',
        'x-forwarded-port': '443',
      }),
      'http',
    ),
    {
      client: '198.51.100.7',
      for: '198.51.100.7, 10.0.0.9, 10.0.0.2',
      host: 'shop.example',
      proto: 'https',
      port: '443',
    },
  )
  t.match(forwarded(request('::1', { host: 'x:81' }), 'http'), {
    client: '::1',
    for: '::1',
    host: 'x:81',
    port: '81',
  })
  t.match(forwarded(request('10.0.0.2', { 'x-forwarded-for': ['10.1.1.1', '10.2.2.2'] }), 'http'), {
    client: '10.1.1.1',
    for: '10.1.1.1, 10.2.2.2, 10.0.0.2',
  })
  t.match(forwarded(request('10.0.0.2', { 'x-forwarded-for': 'unknown, 10.2.2.2' }), 'http'), {
    client: 'unknown',
  })
})
