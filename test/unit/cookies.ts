import t from 'tap'
import { readCookie, stickyCookie } from '../../src/route/cookies.js'

t.test('readCookie finds one cookie by exact name', async (t) => {
  t.equal(readCookie('a=1; colorproxy=green; b=2', 'colorproxy'), 'green')
  t.equal(readCookie('colorproxy="blue"', 'colorproxy'), 'blue')
  t.equal(readCookie('xcolorproxy=green; =x; novalue', 'colorproxy'), undefined)
  t.equal(readCookie(undefined, 'colorproxy'), undefined)
})

t.test('stickyCookie', async (t) => {
  t.equal(stickyCookie('v', 'green', 90_000), 'v=green; Max-Age=90; Path=/; HttpOnly; SameSite=Lax')
})
