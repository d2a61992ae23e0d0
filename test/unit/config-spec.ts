// The spec table is the one source: docs/configuration.md's table and --help are printed from it, and the config
// reads its defaults from it.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig, variableNames } from '../../src/config/load.js'
import { DEFAULTS, markdownTable, usage, VARIABLES } from '../../src/config/spec.js'
import { root } from '../helpers/paths.js'

const cells = (row: string) =>
  row
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((cell) => cell.trim())

t.test("docs/configuration.md's table is the spec table (npm run docs writes it)", async (t) => {
  const readme = readFileSync(join(root, 'docs/configuration.md'), 'utf8')
  const written = (readme.split('<!-- config-table:')[1] ?? '').split('<!-- config-table end -->')[0] ?? ''
  const rows = (text: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith('|') && !/^\|[\s|-]+\|$/.test(line))
      .map(cells)
  t.same(rows(written), rows(markdownTable()))
})

t.test('--help names every variable the config reads', async (t) => {
  const text = usage('1.2.3')
  for (const name of variableNames([])) t.ok(text.includes(`\n  ${name}  `), name)
  t.ok(text.includes('\n  <COLOR>_WEIGHT  '))
  t.equal(VARIABLES.filter((spec) => !spec.name.includes('<')).length, variableNames([]).length)
})

t.test('defaults come from the table, read by the same parsers', async (t) => {
  const config = loadConfig({ BLUE: 'http://a:1' }, { readFile: () => '' })
  t.equal(String(config.listen.port), DEFAULTS.PORT)
  t.equal(config.sites[0]?.colors[0]?.weight, Number(DEFAULTS['<COLOR>_WEIGHT']))
  t.equal(DEFAULTS.TIMEOUT_SERVER_IDLE, '60s')
  t.equal(config.timeouts.serverIdleMs, 60_000)
})

t.test('--help is plain text in 100 columns, with the admin endpoints and the exit codes', async (t) => {
  const text = usage('1.2.3')
  t.same(
    text.split('\n').filter((line) => line.length > 100),
    [],
    'no line over 100 columns',
  )
  t.notMatch(text, /`|\*\*|\]\(/, 'no Markdown')
  for (const part of ['  /stats.json', '  /metrics', '  /readyz', '  78  a bad environment', '  64  ']) {
    t.ok(text.includes(part), part)
  }
  const { plainText, wrap } = await import('../../src/config/spec.js')
  t.equal(plainText('see **[the page](docs/x.md)** and `X`'), 'see the page and X')
  t.same(wrap('one two three', '  ', 8), ['  one', '  two', '  three'])
})
