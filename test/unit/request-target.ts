// What a request may ask for: a table of targets, and RFC 3986's dot-segment removal.
import t from 'tap'
import { removeDotSegments, requestTarget } from '../../src/listen/request-target.js'

const host = (name: string) => ['Host', name]

t.test('targets: origin-form and absolute-form pass, the rest is refused with a status', async (t) => {
  const cases: [number, string, string[], number | string][] = [
    [1, '/a/b?x=1', host('x'), '/a/b?x=1'],
    [1, 'http://x/a?b', host('x'), '/a?b'],
    [1, 'HTTP://X:80/a', host('x'), '/a'],
    [1, 'https://x:443?q', host('x'), '/?q'],
    [1, 'http://x', host('x'), '/'],
    [1, 'http://x/a/../b', host('x'), '/b'],
    [1, 'http://x:8080/a', host('x'), 400],
    [1, 'http://y/a', host('x'), 400],
    [1, 'http://x/a', [], 400],
    [1, 'http://u:p@x/a', host('x'), 400],
    [1, 'http://[bad/a', host('x'), 400],
    [1, 'http://x/a', host('bad host'), 400],
    [1, '*', host('x'), 400],
    [1, 'x:443', host('x'), 400],
    [1, 'ftp://x/', host('x'), 400],
    [1, '/', [...host('a'), ...host('b')], 400],
    [1, '/', ['HOST', 'a', 'X-Other', 'b'], '/'],
    [0, '/', [], 505],
    [2, '/', host('x'), 505],
  ]
  for (const [major, url, raw, expected] of cases) {
    const target = requestTarget(major, url, raw)
    const got = target.ok ? target.path : target.status
    t.equal(got, expected, `HTTP/${major} ${url} ${raw.join(': ')}`)
  }
})

t.test('dot-segments are removed, %2e too; every other segment keeps its encoding', async (t) => {
  for (const [path, expected] of [
    ['/a/b', '/a/b'],
    ['/..', '/'],
    ['/.', '/'],
    ['/a/.', '/a/'],
    ['/a/..', '/'],
    ['/../../x', '/x'],
    ['/a/./b/../c', '/a/c'],
    ['/a/%2E%2e/b', '/b'],
    ['/a/.%2e/b?c=../d', '/b?c=../d'],
    ['/a/..b/c', '/a/..b/c'],
    ['/..%2f/x', '/..%2f/x'],
    ['/a%20b/../c%2Fd', '/c%2Fd'],
    ['/a//../b', '/a/b'],
  ] as const) {
    t.equal(removeDotSegments(path), expected, path)
  }
})
