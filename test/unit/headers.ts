// The header lists an upstream receives and the answer's header object: pure functions of their fields.
import t from 'tap'
import {
  answerHeaders,
  attemptFields,
  endToEndFields,
  headerObject,
  joinPath,
  ownFields,
  requestFields,
  requestId,
  stripResponseHopByHop,
} from '../../src/forward/headers.js'

const OURS = ownFields('Color')

t.test('end-to-end fields keep the client order and spelling, without hop-by-hop or ours', async (t) => {
  const raw = [
    'X-B',
    '2',
    'Connection',
    'x-a',
    'X-A',
    '1',
    'TE',
    'trailers',
    'color',
    'green',
    'Accept',
    '*/*',
  ]
  t.same(endToEndFields(raw, 'x-a', OURS), ['X-B', '2', 'Accept', '*/*'])
  t.same(
    endToEndFields([':path', '/', 'Accept', '*/*'], undefined, OURS),
    ['Accept', '*/*'],
    'pseudo-headers',
  )
})

t.test('a Connection token never removes the framing or Host', async (t) => {
  const raw = ['Content-Length', '3', 'Keep-Alive', 'x', 'Via', 'a']
  t.same(endToEndFields(raw, 'content-length, host, via', OURS), ['Content-Length', '3'])
  t.same(endToEndFields(['Via', 'a'], 'Keep-Alive', OURS), ['Via', 'a'], 'keep-alive is not a list')
})

t.test("a name with '_' that reads as ours or as framing is dropped", async (t) => {
  const raw = [
    'X_Forwarded_For',
    '1.2.3.4',
    'Content_Length',
    '9',
    'Transfer_Encoding',
    'x',
    'My_Field',
    'ok',
  ]
  t.same(endToEndFields(raw, undefined, OURS), ['My_Field', 'ok'])
})

t.test('an answer loses hop-by-hop fields and what its Connection names, never its framing', async (t) => {
  const headers: Record<string, string | string[] | undefined> = {
    connection: 'x-secret, content-length, transfer-encoding',
    'x-secret': '1',
    'content-length': '2',
    'transfer-encoding': 'chunked',
    'keep-alive': 'timeout=5',
    upgrade: 'h2c',
    vary: 'accept',
  }
  stripResponseHopByHop(headers)
  t.same(headers, { 'content-length': '2', 'transfer-encoding': 'chunked', vary: 'accept' })
})

t.test('Authorization is ours only with basic auth', async (t) => {
  t.notOk(ownFields('X-Color').has('authorization'))
  t.ok(ownFields('X-Color', true).has('authorization'))
  t.ok(ownFields('X-Color').has('x-color'), 'the color header in lower case')
})

t.test("the client's X-Request-Id is kept only when printable and short", async (t) => {
  t.equal(requestId('abc-123'), 'abc-123')
  const uuid = /^[0-9a-f-]{36}$/
  for (const given of [undefined, '', 'a b', 'x'.repeat(201), ['a', 'b'], 'é']) {
    t.match(requestId(given), uuid, JSON.stringify(given))
  }
  t.equal(requestId('x'.repeat(200)), 'x'.repeat(200))
})

t.test('every attempt sends the X-Forwarded-* fields after the client ones', async (t) => {
  const forwarded = { client: '10.0.0.1', for: '10.0.0.1', host: 'a.test', proto: 'https', port: '443' }
  const base = requestFields(['Accept', '*/*', 'X-Request-Id', 'forged'], undefined, OURS, 'id-1', forwarded)
  t.same(base, [
    'Accept',
    '*/*',
    'x-request-id',
    'id-1',
    'x-forwarded-for',
    '10.0.0.1',
    'x-forwarded-host',
    'a.test',
    'x-forwarded-proto',
    'https',
    'x-forwarded-port',
    '443',
  ])
  const prefixed = requestFields([], undefined, OURS, 'id', { ...forwarded, prefix: '/api' })
  t.same(prefixed.slice(-2), ['x-forwarded-prefix', '/api'])
})

t.test("an upstream URL's credentials replace the client's Authorization", async (t) => {
  const added = { host: 'up:80', colorHeader: 'Color', color: 'blue', authorization: undefined }
  t.same(attemptFields(['Accept', '*/*'], added), ['Accept', '*/*', 'host', 'up:80', 'Color', 'blue'])
  const withCredentials = attemptFields(['Authorization', 'Basic client', 'Accept', '*/*'], {
    ...added,
    authorization: 'Basic upstream',
  })
  t.same(withCredentials, [
    'Accept',
    '*/*',
    'host',
    'up:80',
    'Color',
    'blue',
    'authorization',
    'Basic upstream',
  ])
})

t.test('a request header object joins repeated fields, cookies with "; "', async (t) => {
  t.same(headerObject(['Cookie', 'a=1', 'X-A', '1', 'cookie', 'b=2', 'x-a', '2']), {
    cookie: 'a=1; b=2',
    'x-a': '1, 2',
  })
})

t.test("an answer's header object keeps every repeated field as an array", async (t) => {
  const headers = answerHeaders(['Set-Cookie', 'a=1', 'Vary', 'x', 'set-cookie', 'b=2', 'SET-COOKIE', 'c=3'])
  t.same({ ...headers }, { 'set-cookie': ['a=1', 'b=2', 'c=3'], vary: 'x' })
  const odd = answerHeaders(['__proto__', 'x', '__Proto__', 'y', 'constructor', 'z'])
  t.same(odd['__proto__'], ['x', 'y'], 'a field named __proto__ is a field')
  t.equal(odd.constructor, 'z')
  t.same(Object.keys(odd), ['__proto__', 'constructor'])
})

t.test("the upstream's base path joins the request's", async (t) => {
  t.equal(joinPath('/', '/a?x=1'), '/a?x=1')
  t.equal(joinPath('', '/a'), '/a')
  t.equal(joinPath('/base/', '/a?x=1'), '/base/a?x=1')
  t.equal(joinPath('/base', '/a'), '/base/a')
})
