// The documentation's commands, each page pasted into a fresh bash in order, print what the page says and
// leave nothing of theirs running: the README's walkthrough, "Canary in practice", "Sites", "TLS".
// Ports are swapped for free ones (the same swap in every command); everything else is run as printed.
// UPDATE_README=1 npx tap test/e2e/readme.ts runs them on the printed ports and writes what they printed back.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { quietPort } from '../helpers/upstreams.js'
import { root } from '../helpers/paths.js'
import { consoleBlocks, linePattern, replay } from '../helpers/readme.js'

// Each page's shell sessions, pasted into a fresh bash of their own, in the page's order.
const PAGES: { file: string; sections: string[] }[] = [
  { file: 'README.md', sections: ['The sillyproxy walkthrough, with colorproxy', 'Automatic HTTPS'] },
  {
    file: 'docs/progressive-delivery.md',
    sections: [
      'Canary in practice',
      'Progressive delivery: a canary that steps, judges itself and stops',
      'The fleet: one canary for every replica',
    ],
  },
  { file: 'docs/sites.md', sections: ['Sites: several services behind one edge'] },
  { file: 'docs/tls.md', sections: ['TLS and HTTP/2'] },
  { file: 'docs/behaviour.md', sections: ['Limits: what one client and one upstream may take'] },
  { file: 'docs/operations.md', sections: ['Admin listener'] },
]
// The walkthrough's Swarm commands are not for this machine: its local part starts at the first `export`.
const PRINTED_PORTS = ['7999', '7998', '7997', '8080', '8081', '8443', '9001', '9002', '9003', '9004', '6379']

for (const page of PAGES) {
  t.test(`${page.file}: its commands print what the page says, and leave nothing running`, async (t) => {
    const path = join(root, page.file)
    const update = process.env.UPDATE_README === '1'
    const text = readFileSync(path, 'utf8')
    const blocks = consoleBlocks(text, page.sections).filter((block) =>
      block.steps.every((step) => !step.command.startsWith('docker ')),
    )
    const steps = blocks.flatMap((block) => block.steps)
    t.ok(steps.length > 5, `${steps.length} commands`)
    const ports = new Map<string, string>()
    // Free ports below the ephemeral range, on both families: a port-0 listener of a test running beside
    // this one can never take one before the page listens on it. A CI run saw a page's `curl localhost:P`
    // answered by nobody the page started, most likely another test's listener on [::]:P, as ::1 goes first.
    const chosen = new Set<number>()
    for (const port of PRINTED_PORTS) {
      const quiet = await quietPort(chosen)
      chosen.add(quiet)
      ports.set(port, update ? port : String(quiet))
    }
    const swap = (line: string) =>
      line.replace(new RegExp(`\\b(${PRINTED_PORTS.join('|')})\\b`, 'g'), (port) => ports.get(port) as string)
    const { outputs, leftRunning } = await replay(
      steps.map((step) => swap(step.command)),
      {
        PORT: ports.get('8080') as string,
        ADMIN_PORT: ports.get('8081') as string,
        HTTPS_PORT: ports.get('8443') as string,
      },
      (fn) => t.teardown(fn),
    )
    t.notOk(leftRunning, 'the page stops everything it started')
    if (update) return writeBack(path, text, blocks, outputs)
    steps.forEach((step, i) => {
      const got = outputs[i] ?? []
      // Trailing blanks (uniq's, curl's CR) are not the page's to show.
      const matches =
        got.length === step.expected.length &&
        step.expected.every((line, j) => linePattern(line).test((got[j] ?? '').trimEnd()))
      t.ok(matches, `$ ${step.command}`, { expected: step.expected.join('\n'), got: got.join('\n') })
    })
  })
}

/** Rewrites each block with what its commands printed. */
function writeBack(
  path: string,
  readme: string,
  blocks: ReturnType<typeof consoleBlocks>,
  outputs: string[][],
): void {
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
  writeFileSync(path, next)
}

t.test('the replay sees what a page leaves running', async (t) => {
  const env = { PORT: '0', ADMIN_PORT: '0' }
  t.ok((await replay(['sleep 30 &'], env, (fn) => t.teardown(fn))).leftRunning, 'a background job left')
  t.notOk((await replay(['sleep 30 & kill $!; wait'], env, (fn) => t.teardown(fn))).leftRunning, 'stopped')
})
