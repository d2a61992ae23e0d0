import { PassThrough } from 'node:stream'
import t from 'tap'
import { createLogger } from '../src/logger.js'

function sink() {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (chunk) => {
    text += chunk
  })
  return { stream, text: () => text }
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

t.test('pretty: readable lines for people', async (t) => {
  const out = sink()
  createLogger({ level: 'info', format: 'pretty' }, out.stream).info({ color: 'green' }, 'listening')
  t.match(out.text(), /INFO.*listening/)
  t.match(out.text(), /color: "green"/)
  t.notMatch(out.text(), /^\{/)
})
