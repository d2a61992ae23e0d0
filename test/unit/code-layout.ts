// The house is drawable: README's "How the code reads" lists every src/ file, in an order where each one
// imports only files listed after it. A new file, or an import back up the flow, fails here.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { root } from '../helpers/programs.js'

const readme = readFileSync(join(root, 'README.md'), 'utf8')
const section = readme.slice(readme.indexOf('### How the code reads'))
const order = [...section.matchAll(/^\| `src\/([a-z0-9-]+)\.ts` +\|/gm)].map((match) => match[1] as string)
const files = readdirSync(join(root, 'src'))
  .filter((name) => name.endsWith('.ts'))
  .map((name) => name.slice(0, -3))

t.test('README lists every src/ file once', async (t) => {
  t.same([...order].sort(), [...files].sort())
})

t.test('every import points down the list', async (t) => {
  const rank = new Map(order.map((name, index) => [name, index]))
  const upward: string[] = []
  for (const file of files) {
    const text = readFileSync(join(root, 'src', `${file}.ts`), 'utf8')
    for (const [, target] of text.matchAll(/from '\.\/([a-z0-9-]+)\.js'/g)) {
      if ((rank.get(target as string) ?? -1) <= (rank.get(file) ?? -1)) upward.push(`${file} → ${target}`)
    }
  }
  t.same(upward, [], 'no arrow back up')
})

t.test('myapp imports nothing from src/', async (t) => {
  for (const name of readdirSync(join(root, 'myapp')).filter((entry) => entry.endsWith('.ts'))) {
    t.notMatch(readFileSync(join(root, 'myapp', name), 'utf8'), /from '\.\.\/src\//, name)
  }
})
