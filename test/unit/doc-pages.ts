// What the pages say about the project itself holds: every test file they name exists, and every npm
// command the development page lists is one of package.json's scripts.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { root } from '../helpers/paths.js'

const pages = [
  'README.md',
  'examples/swarm/README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
]

t.test('every test file a page names exists', async (t) => {
  let named = 0
  for (const page of pages) {
    const text = readFileSync(join(root, page), 'utf8')
    for (const [path] of text.matchAll(/test\/[a-z0-9/-]+(?:\*)?\.ts/g)) {
      named++
      const [folder, file] = [path.slice(0, path.lastIndexOf('/')), path.slice(path.lastIndexOf('/') + 1)]
      const pattern = new RegExp(`^${file.replace('.', '\\.').replace('*', '.*')}$`)
      const found =
        existsSync(join(root, folder)) && readdirSync(join(root, folder)).some((n) => pattern.test(n))
      t.ok(found, `${page}: ${path}`)
    }
  }
  t.ok(named > 5, `${named} test files named`)
})

t.test("the development page's npm commands are package.json's scripts", async (t) => {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: object })
    .scripts
  const text = readFileSync(join(root, 'docs/development.md'), 'utf8')
  const commands = [...text.matchAll(/^\$ npm (?:run )?([a-z:]+)/gm)].map((match) => match[1] as string)
  t.ok(commands.length >= 6, commands.join(', '))
  for (const command of commands.filter((one) => one !== 'install' && one !== 'test')) {
    t.ok(command in scripts, `npm run ${command}`)
  }
  t.ok('test' in scripts, 'npm test')
})

t.test('a number on a page matches any number the command prints, whole or not', async (t) => {
  const { linePattern } = await import('../helpers/readme.js')
  const line = '"msg":"canary green aborted at 10%: error rate 18.9% > 1% over 37 answers"'
  t.ok(linePattern(line).test('"msg":"canary green aborted at 10%: error rate 25% > 1% over 20 answers"'))
  t.ok(linePattern('took 3 s').test('took 2.75 s'))
  t.notOk(linePattern('error rate 18.9%').test('error rate high%'), 'a number, not anything')
  t.ok(linePattern('a ... z').test('a b c z'))
})
