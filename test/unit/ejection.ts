import t from 'tap'
import { Ejection } from '../../src/route/ejection.js'

t.test(
  'EJECT_AFTER consecutive failures eject for EJECT_FOR; an answer in between resets the count',
  async (t) => {
    let clock = 0
    const ejections: string[] = []
    const health = new Ejection(['blue', 'green'], {
      after: 3,
      forMs: 1000,
      now: () => clock,
    })
    health.onEject((color, failures) => ejections.push(`${color} ${failures}`))
    health.connectFailed('green')
    health.connectFailed('green')
    health.answered('green')
    health.connectFailed('green')
    health.connectFailed('green')
    t.ok(health.available('green'), 'not three in a row')
    const before = health.refresh()
    health.connectFailed('green')
    t.notOk(health.available('green'))
    t.same(health.ejected(), ['green'])
    t.not(health.refresh(), before, 'the version moved')
    health.connectFailed('green')
    t.same(ejections, ['green 3'], 'logged once')
    clock = 999
    t.same(health.ejected(), ['green'])
    clock = 1000
    t.same(health.ejected(), [], 'back after EJECT_FOR')
    health.connectFailed('green')
    t.ok(health.available('green'), 'needs EJECT_AFTER fresh failures to leave again')
  },
)

t.test(
  'the last available color is never ejected; EJECT_AFTER=0 never ejects; unknown colors are ignored',
  async (t) => {
    const health = new Ejection(['blue', 'green'], { after: 1, forMs: 1000, now: () => 0 })
    health.connectFailed('green')
    health.connectFailed('blue')
    t.same(health.ejected(), ['green'], 'blue stays: it is the last one')
    health.connectFailed('weight-zero')
    const never = new Ejection(['blue', 'green'], { after: 0, forMs: 1000, now: () => 0 })
    for (let i = 0; i < 10; i++) never.connectFailed('green')
    t.same(never.ejected(), [])
  },
)
