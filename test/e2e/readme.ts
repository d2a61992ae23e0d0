// The README's walkthrough, "Canary in practice" and "Sites", pasted into bash in order, print what the README
// says.
// Ports are swapped for free ones (the same swap in every command); everything else is run as printed.
// UPDATE_README=1 npx tap test/readme.ts runs them on the printed ports and writes what they printed back.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { refusedPort } from '../helpers/upstreams.js'
import { root } from '../helpers/paths.js'
import { consoleBlocks, linePattern, replay } from '../helpers/readme.js'

const README = join(root, 'README.md')
const SECTIONS = [
  'The sillyproxy walkthrough, with colorproxy',
  'Canary in practice',
  'Sites: several services behind one edge',
]
// The walkthrough's Swarm commands are not for this machine: its local part starts at the first `export`.
const PRINTED_PORTS = ['7999', '7998', '7997', '8080', '8081', '9001', '9002', '9003', '9004']

t.test("the README's local walkthrough and canary commands print what the README says", async (t) => {
  const update = process.env.UPDATE_README === '1'
  const readme = readFileSync(README, 'utf8')
  const blocks = consoleBlocks(readme, SECTIONS).filter((block) =>
    block.steps.every((step) => !step.command.startsWith('docker ')),
  )
  const steps = blocks.flatMap((block) => block.steps)
  t.ok(steps.length > 20, `${steps.length} commands`)
  const ports = new Map<string, string>()
  for (const port of PRINTED_PORTS) ports.set(port, update ? port : String(await refusedPort()))
  const swap = (text: string) =>
    text.replace(new RegExp(`\\b(${PRINTED_PORTS.join('|')})\\b`, 'g'), (port) => ports.get(port) as string)
  const outputs = await replay(
    steps.map((step) => swap(step.command)),
    { PORT: ports.get('8080') as string, ADMIN_PORT: ports.get('8081') as string },
    (fn) => t.teardown(fn),
  )
  if (update) return writeBack(readme, blocks, outputs)
  steps.forEach((step, i) => {
    const got = outputs[i] ?? []
    // Trailing blanks (uniq's, curl's CR) are not the README's to show.
    const matches =
      got.length === step.expected.length &&
      step.expected.every((line, j) => linePattern(line).test((got[j] ?? '').trimEnd()))
    t.ok(matches, `$ ${step.command}`, { expected: step.expected.join('\n'), got: got.join('\n') })
  })
})

/** Rewrites each block with what its commands printed. */
function writeBack(readme: string, blocks: ReturnType<typeof consoleBlocks>, outputs: string[][]): void {
  let next = readme
  let index = outputs.length
  for (const block of [...blocks].reverse()) {
    index -= block.steps.length
    const text = block.steps
      .map((step, i) =>
        [`$ ${step.command}`, ...(outputs[index + i] ?? []).map((line) => line.trimEnd())].join('\n'),
      )
      .join('\n')
    next = `${next.slice(0, block.start)}${text}\n${next.slice(block.end)}`
  }
  writeFileSync(README, next)
}
