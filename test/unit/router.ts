import type { IncomingMessage } from 'node:http'
import t from 'tap'
import { rendezvous, unitHash } from '../../src/route/rendezvous.js'
import { createRouter } from '../../src/route/router.js'
import { shares } from '../../src/route/weights.js'

/** A request with these headers from this peer address. */
const request = (headers: Record<string, string> = {}, remoteAddress = '10.0.0.1') =>
  ({ headers, socket: { remoteAddress } }) as unknown as IncomingMessage
const req = request()

/** rand() returning 0/n, 1/n, ... (n-1)/n: every slice of [0, 1) once, so shares are exact. */
function sweep(n: number): () => number {
  let i = 0
  return () => i++ / n
}

function count(colors: { name: string; weight: number }[], n: number): Record<string, number> {
  const router = createRouter(colors, { rand: sweep(n) })
  const seen: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const name = router.decide(req).color?.name ?? 'none'
    seen[name] = (seen[name] ?? 0) + 1
  }
  return seen
}

t.test('4:1 gives exactly 80% and 20% over a full sweep', async (t) => {
  t.same(
    count(
      [
        { name: 'blue', weight: 4 },
        { name: 'green', weight: 1 },
      ],
      1000,
    ),
    { blue: 800, green: 200 },
  )
})

t.test('three colors split by weight', async (t) => {
  t.same(
    count(
      [
        { name: 'a', weight: 1 },
        { name: 'b', weight: 2 },
        { name: 'c', weight: 7 },
      ],
      100,
    ),
    { a: 10, b: 20, c: 70 },
  )
})

t.test('weight 0 is never picked, even at the edges of rand', async (t) => {
  const colors = [
    { name: 'drained', weight: 0 },
    { name: 'blue', weight: 1 },
    { name: 'also-drained', weight: 0 },
    { name: 'green', weight: 1 },
  ]
  t.same(count(colors, 1000), { blue: 500, green: 500 })
  for (const edge of [0, 0.5, 0.999999999]) {
    t.not(createRouter(colors, { rand: () => edge }).decide(req).color?.name, 'drained', `rand=${edge}`)
  }
})

t.test('one color takes everything; none at all picks nothing (503)', async (t) => {
  t.same(
    count(
      [
        { name: 'blue', weight: 3 },
        { name: 'green', weight: 0 },
      ],
      10,
    ),
    { blue: 10 },
  )
  t.same(count([{ name: 'blue', weight: 0 }], 3), { none: 3 })
  t.same(count([], 1), { none: 1 })
})

t.test('the default randomness is Math.random', async (t) => {
  const router = createRouter([
    { name: 'blue', weight: 1 },
    { name: 'green', weight: 1 },
  ])
  const names = new Set(Array.from({ length: 200 }, () => router.decide(req).color?.name))
  t.same([...names].sort(), ['blue', 'green'])
})

t.test('shares in percent', async (t) => {
  t.same(
    [
      ...shares([
        { name: 'blue', weight: 4 },
        { name: 'green', weight: 1 },
      ]),
    ],
    [
      ['blue', 80],
      ['green', 20],
    ],
  )
  t.same(
    [
      ...shares([
        { name: 'a', weight: 1 },
        { name: 'b', weight: 2 },
      ]),
    ],
    [
      ['a', 33.3],
      ['b', 66.7],
    ],
  )
  t.same([...shares([{ name: 'a', weight: 0 }])], [['a', 0]])
})

const blueGreen = (blue: number, green: number) => [
  { name: 'blue', weight: blue },
  { name: 'green', weight: green },
]
const keys = Array.from({ length: 2000 }, (_, i) => `key-${i}`)

t.test(
  "rendezvous: each color gets its weight's share of keys, and the same key the same color",
  async (t) => {
    const colors = blueGreen(4, 1)
    const green = keys.filter((key) => rendezvous(colors, key)?.name === 'green').length / keys.length
    t.ok(Math.abs(green - 0.2) < 0.03, `green ${(green * 100).toFixed(1)}%`)
    t.ok(keys.every((key) => rendezvous(colors, key)?.name === rendezvous(blueGreen(4, 1), key)?.name))
    t.equal(rendezvous(blueGreen(0, 0), 'k'), undefined)
    for (const key of keys.slice(0, 50)) {
      const u = unitHash('blue', key)
      t.ok(u > 0 && u < 1)
    }
  },
)

t.test('rendezvous: raising a weight only moves keys toward that color', async (t) => {
  for (const [from, to] of [
    [1, 3],
    [1, 2],
    [5, 6],
  ] as const) {
    const before = keys.map((key) => rendezvous(blueGreen(4, from), key)?.name)
    const after = keys.map((key) => rendezvous(blueGreen(4, to), key)?.name)
    const away = keys.filter((_, i) => before[i] === 'green' && after[i] === 'blue')
    const toward = keys.filter((_, i) => before[i] === 'blue' && after[i] === 'green')
    t.same(away, [], `green ${from} → ${to}: none away`)
    t.ok(toward.length > 0, `green ${from} → ${to}: ${toward.length} toward`)
  }
})

t.test('sticky header: keys hash among the colors taking traffic; a drained color keeps none', async (t) => {
  const router = createRouter(blueGreen(1, 0), { sticky: { mode: 'header', header: 'X-User' } })
  const decisions = keys.slice(0, 100).map((key) => router.decide(request({ 'x-user': key })))
  t.ok(decisions.every((d) => d.color?.name === 'blue' && d.reason === 'sticky'))
  t.match(router.decide(request({ 'x-user': '' })), { reason: 'weighted' })
  t.match(router.decide(request()), { reason: 'weighted' })
  const even = createRouter(blueGreen(1, 1), { sticky: { mode: 'header', header: 'X-User' } })
  const first = keys[0] as string
  const other = keys.find(
    (key) => rendezvous(blueGreen(1, 1), key)?.name !== rendezvous(blueGreen(1, 1), first)?.name,
  )
  const twice = { headers: { 'x-user': [first, other] }, socket: {} } as unknown as IncomingMessage
  t.equal(
    even.decide(twice).color?.name,
    rendezvous(blueGreen(1, 1), first)?.name,
    'the first of repeated headers',
  )
})

t.test(
  'ejected colors leave the weighted pick and the hash, and failover picks among the others',
  async (t) => {
    const out = new Set<string>()
    let version = 0
    const health = { available: (name: string) => !out.has(name), refresh: () => version }
    const colors = [...blueGreen(1, 1), { name: 'red', weight: 1 }]
    const router = createRouter(colors, { ejection: health, rand: () => 0, sticky: { mode: 'ip' } })
    t.equal(router.weighted()?.name, 'blue')
    out.add('blue')
    version++
    t.equal(router.weighted()?.name, 'green')
    t.ok(
      ['10.0.0.1', '10.0.0.2', '10.0.0.3'].every(
        (ip) => router.decide(request({}, ip)).color?.name !== 'blue',
      ),
    )
    t.equal(router.weighted('green')?.name, 'red')
    t.equal(router.weighted('red')?.name, 'green')
    out.add('red')
    version++
    t.equal(router.weighted('green'), undefined, 'nobody left to fail over to')
  },
)
