// The access log's last lines survive an exit: a real process logs with infoLine through the stdout logger
// colorproxy uses, then dies of an uncaught error in the same turn of the event loop.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { root } from '../helpers/paths.js'

const LOGGER = join(root, 'dist/lib/logger.js')

async function run(ending: string): Promise<{ code: number | null; lines: string[] }> {
  const script = [
    `const { createLogger, infoLine } = await import(${JSON.stringify(LOGGER)})`,
    "const logger = createLogger({ level: 'info', format: 'json' })",
    "for (let n = 1; n <= 3; n++) infoLine(logger, { n }, 'request')",
    ending,
  ].join('\n')
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  const [code] = await once(child, 'close')
  return { code, lines: out.split('\n').filter(Boolean) }
}

t.test('an uncaught error in the same turn: the lines are written before the process ends', async (t) => {
  const { code, lines } = await run("throw new Error('boom')")
  t.equal(code, 1)
  t.match(
    lines.map((line) => JSON.parse(line)),
    [{ n: 1 }, { n: 2 }, { n: 3 }],
  )
})

t.test('process.exit in the same turn: the same', async (t) => {
  const { code, lines } = await run('process.exit(3)')
  t.equal(code, 3)
  t.equal(lines.length, 3)
})
