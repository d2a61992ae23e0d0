// The house is drawable: docs/architecture.md lists every src/ file, a folder's files together, in an order
// where each file imports only files listed after it, so folders import only the folders below them. A new
// file, a file left out, or an import back up the flow (between folders or inside one) fails here.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, posix, relative, resolve } from 'node:path'
import t from 'tap'
import { root } from '../helpers/paths.js'

const page = readFileSync(join(root, 'docs/architecture.md'), 'utf8')
const order = [...page.matchAll(/^\| `(src\/[a-z0-9/-]+\.ts)` +\|/gm)].map((match) => match[1] as string)

function walk(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = posix.join(dir, name)
    if (statSync(join(root, path)).isDirectory()) return walk(path)
    return name.endsWith('.ts') ? [path] : []
  })
}
const files = walk('src')

/** `src/route/router.ts` → `route`; a root file → `` (the process and the wiring). */
const folderOf = (file: string) => (file.split('/').length > 2 ? (file.split('/')[1] as string) : '')

/** Every src/ file a source imports, by its path from the root (`./x.js`, `../y/z.js`, `import('…')`). */
export function importsOf(file: string, text: string): string[] {
  const specifiers = text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)
  return [...specifiers]
    .map(([, spec]) => relative(root, resolve(root, dirname(file), `${spec}.ts`)))
    .filter((target) => target.startsWith('src/'))
}

/** The arrows that point back up: between folders by the folders' order, inside one by the files'. */
export function upward(listed: readonly string[], sources: ReadonlyMap<string, string>): string[] {
  const folders = [...new Set(listed.map(folderOf))]
  const rank = new Map(listed.map((file, index) => [file, index]))
  const arrows: string[] = []
  for (const [file, text] of sources) {
    for (const target of importsOf(file, text)) {
      const [from, to] = [folderOf(file), folderOf(target)]
      if (from !== to && folders.indexOf(to) <= folders.indexOf(from))
        arrows.push(`${file} → ${target} (folder ${from || 'src/'} imports ${to || 'src/'}, above it)`)
      else if (from === to && (rank.get(target) ?? -1) <= (rank.get(file) ?? -1))
        arrows.push(`${file} → ${target}`)
    }
  }
  return arrows
}

const sources = new Map(files.map((file) => [file, readFileSync(join(root, file), 'utf8')]))

t.test('docs/architecture.md lists every src/ file once', async (t) => {
  t.same([...order].sort(), [...files].sort())
})

t.test("a folder's files are listed together, so the folders have one order", async (t) => {
  const runs = order.map(folderOf).filter((folder, index, all) => index === 0 || all[index - 1] !== folder)
  t.same(runs, [...new Set(runs)])
})

t.test('every import points down the list', async (t) => {
  t.same(upward(order, sources), [], 'no arrow back up')
  t.ok(
    [...sources].some(([file, text]) =>
      importsOf(file, text).some((target) => folderOf(target) !== folderOf(file)),
    ),
    'the check sees imports between folders',
  )
})

t.test('an import against the folders’ order fails, even when the files are in order', async (t) => {
  // Move one import: the config (the bottom room) reaching up into forward/.
  const moved = new Map(sources)
  const load = 'src/config/load.ts'
  moved.set(load, `import { writePlain } from '../forward/failures.js'\n${sources.get(load)}`)
  t.same(upward(order, moved), [
    `${load} → src/forward/failures.ts (folder config imports forward, above it)`,
  ])
  const forwardFirst = [...order.filter((file) => file.startsWith('src/config/')), ...order]
  t.not(
    upward([...new Set(forwardFirst)], sources).length,
    0,
    'and a table that lists config/ first fails too',
  )
})

t.test('the root holds only the process and the wiring', async (t) => {
  t.same(files.filter((file) => folderOf(file) === '').sort(), [
    'src/app.ts',
    'src/cluster.ts',
    'src/main.ts',
    'src/service.ts',
    'src/site.ts',
  ])
})

t.test('myapp imports nothing from src/', async (t) => {
  for (const name of readdirSync(join(root, 'myapp')).filter((entry) => entry.endsWith('.ts'))) {
    t.notMatch(readFileSync(join(root, 'myapp', name), 'utf8'), /from '\.\.\/src\//, name)
  }
})
