import t from 'tap'
import { createRouter, shares } from '../src/router.js'

const req = {} as Parameters<ReturnType<typeof createRouter>['pick']>[0]

/** rand() returning 0/n, 1/n, ... (n-1)/n: every slice of [0, 1) once, so shares are exact. */
function sweep(n: number): () => number {
  let i = 0
  return () => i++ / n
}

function count(colors: { name: string; weight: number }[], n: number): Record<string, number> {
  const router = createRouter(colors, sweep(n))
  const seen: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const name = router.pick(req)?.name ?? 'none'
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
    t.not(createRouter(colors, () => edge).pick(req)?.name, 'drained', `rand=${edge}`)
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
  const names = new Set(Array.from({ length: 200 }, () => router.pick(req)?.name))
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
