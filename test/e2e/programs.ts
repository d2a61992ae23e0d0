// The child-process helper itself: what a test reads once `exit` resolves must be everything written to
// the program's stdout, by it or by a process it started (a cluster's workers share the primary's stdout).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { start } from '../helpers/programs.js'

t.test('exit resolves only once every process writing to the stdout pipe is done', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-programs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // The child says its line and ends; the grandchild shares its stdout and says its own line only when
  // the child's end closes the grandchild's stdin: always after the child's exit.
  writeFileSync(
    join(dir, 'grandchild.mjs'),
    `process.stdin.on('end', () => process.stdout.write('{"from":"grandchild"}\\n')).resume()\n`,
  )
  writeFileSync(
    join(dir, 'child.mjs'),
    `import { spawn } from 'node:child_process'
const grandchild = spawn(process.execPath, [${JSON.stringify(join(dir, 'grandchild.mjs'))}], {
  stdio: ['pipe', 'inherit', 'inherit'],
})
grandchild.unref()
process.stdout.write('{"from":"child"}\\n')
process.stderr.write('bye\\n')
process.exitCode = 3
`,
  )
  const program = start(t, join(dir, 'child.mjs'), {})
  t.same(await program.exit, { code: 3, signal: null })
  t.same(program.lines, [{ from: 'child' }, { from: 'grandchild' }])
  t.equal(program.stderr(), 'bye\n')
})
