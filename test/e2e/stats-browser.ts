// The stats page in a real browser: headless Chromium from Debian (`apt-get install -y chromium`, which
// .ci/run does) driven by playwright-core. The numbers it shows must move when traffic flows.
// UPDATE_SCREENSHOT=1 also saves docs/stats-page.png for the README.
import { existsSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { get, recordingUpstream } from '../helpers/net.js'
import { root } from '../helpers/programs.js'
import { startColorProxy } from '../helpers/proxy.js'

const CHROMIUM = '/usr/bin/chromium'

t.test('the stats page updates itself as traffic flows', async (t) => {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (apt-get install -y chromium)`)
  const blue = await recordingUpstream(t, (_req, res) => res.end('blue'))
  const green = await recordingUpstream(t, (_req, res) => res.end('green'))
  // A clock the test moves, so five minutes of history take no time.
  let clock = Date.parse('2026-11-23T12:00:00Z')
  const proxy = await startColorProxy(
    t,
    { BLUE: blue.url, GREEN: green.url, BLUE_WEIGHT: '4', GREEN_WEIGHT: '1' },
    { now: () => clock },
  )
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 960, height: 560 } })
  const outside: string[] = []
  page.on('request', (request) => {
    if (!request.url().startsWith(proxy.admin)) outside.push(request.url())
  })
  await page.goto(`${proxy.admin}/`)
  const cell = (color: string, name: string) =>
    page.locator(`[data-color="${color}"] .${name}`).textContent({ timeout: 5000 })
  t.equal(await cell('blue', 'requests'), '0')
  t.equal(await cell('green', 'configured'), '20%')

  const agent = new http.Agent({ keepAlive: true })
  for (let step = 0; step < 30; step++) {
    clock += 10_000
    for (let i = 0; i < 20; i++) await get(proxy.url, { agent })
  }
  agent.destroy()
  const total = blue.requests.length + green.requests.length
  t.equal(total, 600)
  // No reload: the page's own polling must bring the new numbers.
  await page.waitForFunction(
    `document.querySelector('.total-requests')?.textContent === '${total}'`,
    undefined,
    { timeout: 10_000 },
  )
  t.equal(await cell('blue', 'requests'), String(blue.requests.length), "blue's count moved")
  t.equal(await cell('green', 'requests'), String(green.requests.length), "green's count moved")
  t.match(await cell('green', 'observed'), /^\d+(\.\d)?%$/)
  t.ok((await page.locator('svg.chart rect').count()) >= 30, 'the chart draws the last five minutes')
  t.same(outside, [], 'nothing fetched from outside the admin listener')
  if (process.env.UPDATE_SCREENSHOT) {
    await page.screenshot({ path: join(root, 'docs/stats-page.png'), fullPage: true })
  }
})
