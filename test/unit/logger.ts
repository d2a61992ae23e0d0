import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import t, { type Test } from 'tap'
import { bufferedDestination, createLogger, flushed, infoLine } from '../../lib/logger.js'
import { captureLogger } from '../helpers/logs.js'

function sink() {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (chunk) => {
    text += chunk
  })
  return { stream, text: () => text }
}

/** A JSON logger on bufferedDestination() into a fresh file, and what has reached that file so far. */
async function fileLog(t: Test, buffer: { bytes: number; flushEveryMs: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-log-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'out.log')
  const stream = bufferedDestination(file, buffer)
  t.teardown(() => stream.end())
  await once(stream, 'ready')
  const logger = createLogger({ level: 'info', format: 'json' }, stream)
  return { logger, stream, written: () => readFileSync(file, 'utf8') }
}

t.test('json: one object per line, no pid or hostname', async (t) => {
  const out = sink()
  createLogger({ level: 'info', format: 'json' }, out.stream).info({ color: 'blue' }, 'hello')
  const line = JSON.parse(out.text())
  t.match(line, { level: 30, color: 'blue', msg: 'hello' })
  t.equal(line.pid, undefined)
})

t.test('credentials in logged headers are redacted', async (t) => {
  const out = sink()
  const logger = createLogger({ level: 'info', format: 'json' }, out.stream)
  logger.info({
    req: { headers: { authorization: 'Bearer abc', cookie: 'a=1', 'proxy-authorization': 'x' } },
  })
  logger.info({ res: { headers: { 'set-cookie': 'a=1' } } })
  t.notMatch(out.text(), /Bearer abc|a=1/)
  t.match(out.text(), /\[redacted\]/)
})

t.test('level filters, silent says nothing', async (t) => {
  const out = sink()
  const logger = createLogger({ level: 'warn', format: 'json' }, out.stream)
  logger.info('quiet')
  logger.warn('loud')
  t.match(out.text(), /loud/)
  t.notMatch(out.text(), /quiet/)
  const none = sink()
  createLogger({ level: 'silent', format: 'json' }, none.stream).fatal('nothing')
  t.equal(none.text(), '')
})

t.test(
  'infoLine writes the line logger.info would, byte for byte, in its place among the others',
  async (t) => {
    const [fast, slow] = [sink(), sink()]
    const [fastLogger, slowLogger] = [fast, slow].map((out) =>
      createLogger({ level: 'info', format: 'json' }, out.stream),
    ) as [ReturnType<typeof createLogger>, ReturnType<typeof createLogger>]
    const fields = {
      method: 'GET',
      path: '/a"b\\c\u0001é\u2028',
      status: 200,
      color: null,
      duration_ms: 0.5,
      gone: undefined,
      not_a_number: Number.NaN,
      tls: false,
    }
    const realNow = Date.now
    Date.now = () => 1_700_000_000_000
    t.teardown(() => (Date.now = realNow))
    fastLogger.info('before')
    infoLine(fastLogger, fields, 'request')
    fastLogger.warn('after')
    slowLogger.info('before')
    slowLogger.info(fields, 'request')
    slowLogger.warn('after')
    t.equal(fast.text(), slow.text())
    t.match(
      fast.text().split('\n')[1],
      /^\{"level":30,"time":1700000000000,"method":"GET".*"msg":"request"\}$/s,
    )
  },
)

t.test("infoLine: a turn's lines go out together after it, and flushed() waits for them", async (t) => {
  const writes: string[] = []
  const stream = { write: (text: string) => writes.push(text) }
  const logger = createLogger({ level: 'info', format: 'json' }, stream)
  infoLine(logger, { n: 1 }, 'request')
  infoLine(logger, { n: 2 }, 'request')
  t.same(writes, [], 'nothing is written before the turn is over')
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.equal(writes.length, 1, 'one write for the turn')
  t.match(
    writes[0],
    /^\{"level":30,"time":\d+,"n":1,"msg":"request"\}\n\{"level":30,"time":\d+,"n":2,"msg":"request"\}\n$/,
  )
  infoLine(logger, { n: 3 }, 'request')
  await flushed(logger)
  t.match(writes[1], /"n":3/, 'flushed() writes what the turn has kept')
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.equal(writes.length, 2, 'and the turn has nothing left to write')
})

t.test('infoLine: nothing above info; a pretty or a test logger logs it through pino', async (t) => {
  const quiet = sink()
  infoLine(createLogger({ level: 'warn', format: 'json' }, quiet.stream), { status: 200 }, 'request')
  t.equal(quiet.text(), '')
  const pretty = sink()
  infoLine(createLogger({ level: 'info', format: 'pretty' }, pretty.stream), { status: 200 }, 'request')
  t.match(pretty.text(), /INFO.*request/)
  const captured = captureLogger()
  infoLine(captured.logger, { status: 200 }, 'request')
  t.match(captured.lines, [{ level: 30, status: 200, msg: 'request' }])
})

t.test('pretty: readable lines for people', async (t) => {
  const out = sink()
  createLogger({ level: 'info', format: 'pretty' }, out.stream).info({ color: 'green' }, 'listening')
  t.match(out.text(), /INFO.*listening/)
  t.match(out.text(), /color: "green"/)
  t.notMatch(out.text(), /^\{/)
})

t.test('the stdout destination buffers, and still hands a quiet line over within flushEveryMs', async (t) => {
  const { logger, stream, written } = await fileLog(t, { bytes: 4096, flushEveryMs: 50 })
  logger.info('quiet')
  t.equal(written(), '', 'held in the buffer at first')
  // The timer's flush writes it: wait for a write that carried bytes. (That timer is unref'd, as it must
  // be in a program; here the test keeps the process alive while it waits.)
  const alive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(alive))
  for (;;) if ((await once(stream, 'write'))[0] > 0) break
  t.match(written(), /"msg":"quiet"/)
})

t.test('flushed() resolves once the buffered lines are written; a stuck reader cannot hold it', async (t) => {
  const { logger, written } = await fileLog(t, { bytes: 16_000, flushEveryMs: 60_000 })
  for (let i = 0; i < 100; i++) logger.info({ i }, 'line')
  await flushed(logger)
  t.equal(written().trim().split('\n').length, 100)

  const stuck = { write() {}, flush() {} }
  const started = Date.now()
  await flushed(createLogger({ level: 'info', format: 'json' }, stuck), 50)
  t.ok(Date.now() - started < 1000, 'gave up after withinMs')
})

t.test('a warning or an error is written at once, with what was buffered before it', async (t) => {
  const { logger, stream, written } = await fileLog(t, { bytes: 16_000, flushEveryMs: 60_000 })
  logger.info('before')
  logger.warn('news')
  for (;;) if ((await once(stream, 'write'))[0] > 0) break
  t.match(written(), /"msg":"before"[^]*"msg":"news"/)
  logger.info('after')
  logger.error('more news')
  for (;;) if ((await once(stream, 'write'))[0] > 0) break
  t.match(written(), /"msg":"after"[^]*"msg":"more news"/)
})

t.test(
  'the buffered destination writes each line as UTF-8, whole, across its buffer boundaries',
  async (t) => {
    const { logger, written } = await fileLog(t, { bytes: 1000, flushEveryMs: 60_000 })
    // Lines of 2- and 4-byte characters, so the buffer fills mid-character many times over.
    const lines = Array.from({ length: 50 }, (_, i) => `héllo ${i} ${'é'.repeat(i)} 🟦🟩`)
    for (const line of lines) logger.info(line)
    await flushed(logger)
    t.same(
      written()
        .trim()
        .split('\n')
        .map((text) => JSON.parse(text).msg),
      lines,
    )
  },
)

t.test('a flush timer never fires into a destination that is closing', async (t) => {
  // While the file closes (an fsync, then a close), a flush every millisecond would throw "SonicBoom
  // destroyed" from a timer: the unit lane saw it once. sonic-boom's own periodic flush stops first.
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-log-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // The flush timer is unref'd; this keeps the test's process alive while it waits.
  const alive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(alive))
  for (let i = 0; i < 20; i++) {
    const stream = bufferedDestination(join(dir, `${i}.log`), { bytes: 4096, flushEveryMs: 1 })
    await once(stream, 'ready')
    createLogger({ level: 'info', format: 'json' }, stream).info('line')
    // The timer's flush has written the line: the timer runs.
    for (;;) if ((await once(stream, 'write'))[0] > 0) break
    stream.end()
    await once(stream, 'close')
  }
  t.pass('closed twenty times, no error from a timer')
})
