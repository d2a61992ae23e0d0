#!/usr/bin/env node
// npm run rehearse [canary|bad-env|backend|https|sites|progressive|progressive-bad|progressive-fleet|
// progressive-bad-fleet ...]: a Swarm rollout on one machine, with a timeline. Exits 1 when a request
// failed beyond its step's budget (0 but in the progressive-bad ones, where green's answers before the
// abort may fail). The -fleet ones start a redis-server for FLEET_STORE.
import { overBudget, SCENARIOS, type ScenarioReport } from './rehearsal/scenarios.js'

// Answers counted after each step to measure the split (REHEARSE_ANSWERS, default 1500).
const answersPerStep = Number(process.env.REHEARSE_ANSWERS ?? 1500)
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(SCENARIOS)
const began = performance.now()
const timeline = (event: string) =>
  console.log(`${((performance.now() - began) / 1000).toFixed(1).padStart(6)}s  ${event}`)

const reports: ScenarioReport[] = []
for (const name of names) {
  const scenario = SCENARIOS[name as keyof typeof SCENARIOS]
  if (!scenario) {
    console.error(`rehearse: no scenario ${name}; try ${Object.keys(SCENARIOS).join(', ')}`)
    process.exit(2)
  }
  console.log(`\n== ${name}`)
  reports.push(await scenario({ timeline, answersPerStep, clients: 8 }))
}

console.log('\n== report')
let failed = 0
for (const report of reports) {
  const problems = overBudget(report)
  failed += problems.length
  console.log(
    `${report.scenario}: ${report.requests} requests, ${report.failures} failed, ${report.retries} retried`,
  )
  for (const step of report.steps) {
    const shares = (split: Record<string, number>) =>
      Object.entries(split)
        .map(([color, share]) => `${color} ${share}%`)
        .join(', ')
    console.log(
      `  ${step.applied ? 'applied    ' : 'rolled back'}  ${step.name}: expected ${shares(step.expected)}, observed ${shares(step.observed)}`,
    )
  }
  for (const failure of report.failed) console.log(`  failed: ${failure}`)
  for (const problem of problems) console.log(`  over budget: ${problem}`)
}
process.exit(failed === 0 ? 0 : 1)
