// The rollout rehearsal's command line and parts; each scenario runs in test/rehearsal-<name>.ts, a process
// of its own.
import t from 'tap'
import { colorOf } from '../../scripts/rehearsal/load.js'
import { start } from '../helpers/programs.js'
import { REHEARSE } from '../helpers/paths.js'

t.test('colorOf reads the color from either page', async (t) => {
  t.equal(colorOf('blue myapp-v1\n'), 'blue')
  t.equal(colorOf('\n<h1>myapp-v2 (green)</h1>\n'), 'green')
  t.equal(colorOf('502 the upstream refused the connection\n'), undefined)
})

t.test('npm run rehearse prints a timeline and a report, and exits 0 when nothing was lost', async (t) => {
  const program = start(t, REHEARSE, { REHEARSE_ANSWERS: '200' }, ['bad-env'])
  const { code } = await program.exit
  const output = program.lines.map((line) => line.text).join('\n')
  t.equal(code, 0, program.stderr())
  t.match(output, /proxy\.1: ready, in rotation \(proxy\.1\)/)
  t.match(output, /proxy: update failed: proxy\.\d exited 78 before it was ready/)
  t.match(
    output,
    /== report\na bad environment is rolled back \(3 proxy replicas\): \d+ requests, 0 failed, \d+ retried/,
  )
  t.match(
    output,
    /rolled back {2}--env-add GREEN_WEIGHT=abc \(start-first\): expected blue 80%, green 20%, observed/,
  )
})

t.test('npm run rehearse names the scenarios when given an unknown one', async (t) => {
  const program = start(t, REHEARSE, {}, ['nope'])
  t.equal((await program.exit).code, 2)
  t.match(program.stderr(), /no scenario nope; try canary, bad-env, backend, https/)
})
