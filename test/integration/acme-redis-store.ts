// ACME_STORE as a Redis, against a real redis-server: whole values under the colorproxy:acme: prefix, the
// ordering lock with Redis's own expiry as its lease, and a Redis that is down, then back.
import t from 'tap'
import { RedisStore } from '../../src/acme/redis-store.js'
import { parseRedisUrl } from '../../src/config/redis-url.js'
import { captureLogger } from '../helpers/logs.js'
import { startRedis } from '../helpers/redis.js'
import type { Teardown } from '../helpers/upstreams.js'

function open(t: Teardown, url: string) {
  const { logger, lines, line } = captureLogger('info')
  const store = new RedisStore(parseRedisUrl(url), logger)
  store.open()
  t.teardown(() => store.close())
  return { store, lines, line }
}

t.test('a store not opened yet says so, and loads no client', async (t) => {
  const { logger } = captureLogger('info')
  const store = new RedisStore(parseRedisUrl('redis://127.0.0.1:1'), logger)
  await t.rejects(store.read('account.key'), { message: 'the Redis store is not open' })
  store.close()
})

t.test('values are kept whole under the prefix, and read back', async (t) => {
  const redis = await startRedis(t)
  const { store, line } = open(t, redis.url)
  await line((one) => /is reached$/.test(String(one.msg)))
  t.equal(await store.read('certificates/a.test.pem'), undefined, 'nothing there yet')
  await store.write('certificates/a.test.pem', 'PEM\n')
  t.equal(await store.read('certificates/a.test.pem'), 'PEM\n')
  t.equal(await redis.client().get('colorproxy:acme:certificates/a.test.pem'), 'PEM\n', 'under the prefix')
  await store.remove('certificates/a.test.pem')
  t.equal(await store.read('certificates/a.test.pem'), undefined, 'removed')
})

t.test('one owner holds the lock until it gives it up or its lease runs out', async (t) => {
  const redis = await startRedis(t)
  const { store } = open(t, redis.url)
  const raw = redis.client()
  t.ok(await store.lock('locks/a.test', 'one', 60_000), 'taken')
  t.notOk(await store.lock('locks/a.test', 'two', 60_000), 'not by another')
  t.ok(await store.lock('locks/a.test', 'one', 120_000), 'renewed by its owner')
  t.ok((await raw.pttl('colorproxy:acme:locks/a.test')) > 60_000, 'with the new lease')
  await store.unlock('locks/a.test', 'two')
  t.equal(await raw.get('colorproxy:acme:locks/a.test'), 'one', 'another cannot give it up')
  await store.unlock('locks/a.test', 'one')
  t.ok(await store.lock('locks/a.test', 'two', 60_000), 'free once its owner gave it up')
  // A holder that died: its lease ends in Redis itself.
  t.ok(await store.lock('locks/b.test', 'dead', 1))
  await raw.pexpire('colorproxy:acme:locks/b.test', 0)
  t.ok(await store.lock('locks/b.test', 'two', 60_000), 'free once the lease ran out')
})

t.test(
  'a Redis that is down fails each call within a try, is said once, and is used again when back',
  async (t) => {
    const redis = await startRedis(t, { running: false })
    const { store, lines, line } = open(t, redis.url)
    for (let i = 0; i < 3; i++)
      await t.rejects(store.read('account.key'), 'a call fails, it does not wait for Redis')
    await line((one) => /is unreachable/.test(String(one.msg)))
    t.match(
      lines.filter((one) => /ACME: the store/.test(String(one.msg))),
      [{ level: 40, store: redis.url, msg: /^ACME: the store redis:\/\/127\.0\.0\.1:\d+ is unreachable \(/ }],
      'one line, however many tries',
    )
    await redis.start()
    await line((one) => /is back$/.test(String(one.msg)))
    await store.write('account.key', 'KEY')
    t.equal(await store.read('account.key'), 'KEY', 'used again')
  },
)

t.test('a password never shows: not in the lines, not in the shown address', async (t) => {
  const redis = await startRedis(t, { running: false })
  const url = `redis://user:s3cret@127.0.0.1:${redis.port}/1`
  const { lines, line } = open(t, url)
  await line((one) => /is unreachable/.test(String(one.msg)))
  t.notMatch(JSON.stringify(lines), /s3cret/)
  t.match(lines[0], { store: `redis://***@127.0.0.1:${redis.port}/1` })
})
