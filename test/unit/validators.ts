import t from 'tap'
import {
  colorVariable,
  parseBoolean,
  parseColorList,
  parseHeaderName,
  parseWeight,
} from '../../src/config/validators.js'
import { parseDuration, parsePort } from '../../lib/values.js'

t.test('durations: bare seconds or a unit', async (t) => {
  t.equal(parseDuration('5'), 5000)
  t.equal(parseDuration('0.5'), 500)
  t.equal(parseDuration('500ms'), 500)
  t.equal(parseDuration('10s'), 10000)
  t.equal(parseDuration('2m'), 120000)
  t.equal(parseDuration('24h'), 86400000)
  t.equal(parseDuration(' 3s '), 3000, 'surrounding spaces are forgiven')
  t.equal(parseDuration('0'), 0)
  t.throws(() => parseDuration('0', { min: 1 }), /above 0/)
  for (const bad of ['', 's', '5 s', '-5', '5sec', '1e3', '1d'])
    t.throws(() => parseDuration(bad), /duration/, bad)
})

t.test('booleans', async (t) => {
  for (const yes of ['true', 'TRUE', '1', 'yes', 'on']) t.equal(parseBoolean(yes), true, yes)
  for (const no of ['false', '0', 'no', 'off']) t.equal(parseBoolean(no), false, no)
  t.throws(() => parseBoolean('y'), /true or false/)
})

t.test('weights and ports are whole numbers in range', async (t) => {
  t.equal(parseWeight('0'), 0)
  t.equal(parseWeight('1000000'), 1000000)
  t.throws(() => parseWeight('1000001'))
  t.throws(() => parseWeight('0x10'))
  t.equal(parsePort('65535'), 65535)
  t.throws(() => parsePort('65536'))
})

t.test('header names are tokens, not the ones the proxy manages', async (t) => {
  t.equal(parseHeaderName('X-Color'), 'X-Color')
  for (const bad of ['', 'A B', 'Connection', 'content-length', 'Colör'])
    t.throws(() => parseHeaderName(bad), bad)
})

t.test('color lists and their variable prefixes', async (t) => {
  t.same(parseColorList('blue, green ,canary-2'), ['blue', 'green', 'canary-2'])
  t.throws(() => parseColorList('1blue'))
  t.throws(() => parseColorList('blue_1'))
  t.equal(colorVariable('canary-2'), 'CANARY_2')
})
