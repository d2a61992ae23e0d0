// Which site serves a host and path: a table of cases, read as a person would route them, through the
// same parsers the config uses (so `_HOSTS` and `_PATHS` are normalized as in production).
import { domainToASCII } from 'node:url'
import t from 'tap'
import { createSiteMatcher, serves, stripSegments } from '../../src/route/site-match.js'
import { normalizeHost, pathSegments } from '../../src/config/host-path.js'
import { parseSiteHosts, parseSitePaths } from '../../src/config/validators.js'

const claim = (site: string, hosts: string | undefined, paths = '/') => ({
  site,
  hosts: hosts === undefined ? undefined : parseSiteHosts(hosts),
  paths: parseSitePaths(paths),
})

const match = createSiteMatcher(
  [
    claim('shop', 'shop.example.com,Bücher.example'),
    claim('shop-cart', 'shop.example.com', '/cart'),
    claim('wild', '*.example.com'),
    claim('wild-eu', '*.eu.example.com'),
    claim('api', undefined, '/api,/v2/api'),
    claim('api-admin', undefined, '/api/admin'),
    claim('spaced', undefined, '/my%20docs'),
    claim('ip', '10.0.0.1'),
  ],
  'default',
)

// [Host, path, site, matched prefix, depth]
const CASES: [string | undefined, string, string | undefined, string?, number?][] = [
  ['shop.example.com', '/', 'shop', '/', 0],
  ['shop.example.com', '/index.html', 'shop', '/', 0],
  ['SHOP.Example.COM', '/', 'shop', '/', 0],
  ['shop.example.com:8443', '/', 'shop', '/', 0],
  ['shop.example.com.', '/', 'shop', '/', 0],
  ['shop.example.com.:80', '/', 'shop', '/', 0],
  ['shop.example.com', '/cart', 'shop-cart', '/cart', 1],
  ['shop.example.com', '/cart/', 'shop-cart', '/cart', 1],
  ['shop.example.com', '/cart/items?x=1', 'shop-cart', '/cart', 1],
  ['shop.example.com', '/cartx', 'shop', '/', 0],
  ['shop.example.com', '/Cart', 'shop', '/', 0],
  ['shop.example.com', '/%63art', 'shop-cart', '/cart', 1],
  ['shop.example.com', '//cart', 'shop-cart', '/cart', 1],
  ['xn--bcher-kva.example', '/', 'shop', '/', 0],
  [Buffer.from('bücher.example').toString('latin1'), '/', 'shop', '/', 0],
  ['a.example.com', '/', 'wild', '/', 0],
  ['a.b.example.com', '/', 'wild', '/', 0],
  ['example.com', '/', 'default', '/', 0],
  ['x.eu.example.com', '/', 'wild-eu', '/', 0],
  ['y.x.eu.example.com', '/', 'wild-eu', '/', 0],
  ['eu.example.com', '/', 'wild', '/', 0],
  ['a.example.com', '/api', 'wild', '/', 0],
  ['other.test', '/api', 'api', '/api', 1],
  ['other.test', '/api/', 'api', '/api', 1],
  ['other.test', '/api/x', 'api', '/api', 1],
  ['other.test', '/apix', 'default', '/', 0],
  ['other.test', '/ap', 'default', '/', 0],
  ['other.test', '/API', 'default', '/', 0],
  ['other.test', '/api?q=/admin', 'api', '/api', 1],
  ['other.test', '/api/admin', 'api-admin', '/api/admin', 2],
  ['other.test', '/api/admin/users', 'api-admin', '/api/admin', 2],
  ['other.test', '/api/adminx', 'api', '/api', 1],
  ['other.test', '/api%2Fadmin', 'default', '/', 0],
  ['other.test', '/api%2fx', 'default', '/', 0],
  ['other.test', '/%61pi/%61dmin', 'api-admin', '/api/admin', 2],
  ['other.test', '/v2/api/x', 'api', '/v2/api', 2],
  ['other.test', '/v2', 'default', '/', 0],
  ['other.test', '/my%20docs/a', 'spaced', '/my%20docs', 1],
  ['other.test', '/my docs', 'spaced', '/my%20docs', 1],
  ['other.test', '/%ff/x', 'default', '/', 0],
  ['other.test', '/%zz', 'default', '/', 0],
  [undefined, '/api', 'api', '/api', 1],
  [undefined, '/', 'default', '/', 0],
  ['', '/', 'default', '/', 0],
  ['10.0.0.1:8080', '/', 'ip', '/', 0],
  ['[::1]:8080', '/api', 'api', '/api', 1],
  ['shop.example.com', '/api', 'shop', '/', 0],
  ['shop.example.com.evil.test', '/', 'default', '/', 0],
  ['evilshop.example.com', '/', 'wild', '/', 0],
]

t.test(`${CASES.length} (host, path) → site cases`, async (t) => {
  for (const [host, path, site, prefix, depth] of CASES) {
    t.same(match(host, path), site && { site, prefix, depth }, `${host} ${path} → ${site}`)
  }
})

t.test('no default site: no match', async (t) => {
  const only = createSiteMatcher([claim('api', undefined, '/api')])
  t.equal(only('x', '/'), undefined)
  t.equal(only('x', '/apix'), undefined)
  t.same(only('x', '/api/1'), { site: 'api', prefix: '/api', depth: 1 })
  const hosted = createSiteMatcher([claim('shop', 'shop.test', '/shop')])
  t.equal(hosted('shop.test', '/'), undefined, 'a host whose paths do not match falls through to nothing')
})

t.test('STRIP_PATH takes whole segments off and keeps the rest as sent', async (t) => {
  const cases: [string, number, string][] = [
    ['/api/x?y', 1, '/x?y'],
    ['/api', 1, '/'],
    ['/api/', 1, '/'],
    ['/api?y=/z', 1, '/?y=/z'],
    ['//api//x', 1, '/x'],
    ['/api/%2Fx/', 1, '/%2Fx/'],
    ['/v2/api/x%20y', 2, '/x%20y'],
    ['/anything', 0, '/anything'],
  ]
  for (const [path, depth, stripped] of cases) t.equal(stripSegments(path, depth), stripped, path)
})

t.test('hosts and paths as the matcher reads them', async (t) => {
  t.equal(normalizeHost('[::1'), undefined)
  t.equal(normalizeHost(Buffer.from('ünï.example').toString('latin1') + '..'), domainToASCII('ünï.example'))
  t.same(pathSegments('/a//b%2Fc/%7e?x/y'), ['a', 'b%2Fc', '~'])
  t.equal(serves({ hosts: undefined, paths: ['/api'], prefix: 'API_' }), 'any host /api')
  t.equal(serves({ hosts: ['a.test', '*.b.test'], paths: ['/'], prefix: 'A_' }), 'a.test, *.b.test /')
  t.equal(serves({ hosts: undefined, paths: ['/'], prefix: '' }), 'every host and path no other site serves')
})

t.test('the config parsers refuse what would never match', async (t) => {
  for (const bad of [
    '',
    'shop.test:8080',
    'http://shop.test',
    'shop.test/x',
    '*',
    '*.',
    'a..b',
    '-a.test',
    'a b',
  ])
    t.throws(() => parseSiteHosts(bad), /host names/, JSON.stringify(bad))
  t.throws(() => parseSiteHosts('a.test,A.TEST.'), /twice/)
  t.same(parseSiteHosts(' Shop.Test. , *.EU.test'), ['shop.test', '*.eu.test'])
  for (const bad of ['api', '/a?b', '/a#b', '/a/../b', '/a/./b', ''])
    t.throws(() => parseSitePaths(bad), /start with \//, JSON.stringify(bad))
  t.throws(() => parseSitePaths('/api,/api/'), /twice/)
  t.same(parseSitePaths('/api/ , //v2//x , /'), ['/api', '/v2/x', '/'])
})

t.test('no sites but the default one: every host and path is the default site', async (t) => {
  const only = createSiteMatcher([], 'default')
  t.same(only('anything.test', '/a/b'), { site: 'default', prefix: '/', depth: 0 })
  t.equal(createSiteMatcher([])('x', '/'), undefined)
})

t.test('the default site serves nothing when another site takes every host and path', async (t) => {
  const shop = { name: 'shop', hosts: undefined, paths: ['/'], prefix: 'SHOP_' }
  const api = { name: 'api', hosts: undefined, paths: ['/api'], prefix: 'API_' }
  const fallback = { name: 'default', hosts: undefined, paths: ['/'], prefix: '' }
  t.equal(serves(fallback, [fallback, shop]), 'nothing: the site shop answers every host and path')
  t.equal(serves(fallback, [fallback, api]), 'every host and path no other site serves')
})
