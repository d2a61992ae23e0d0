// The stats page in a real browser: headless Chromium from Debian (`apt-get install -y chromium`, which
// .ci/run does) driven by playwright-core. The numbers it shows must move when traffic flows.
// UPDATE_SCREENSHOT=1 also saves docs/stats-page.png for the README.
import { existsSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { get } from '../helpers/clients.js'
import { recordingUpstream } from '../helpers/upstreams.js'
import { root } from '../helpers/paths.js'
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

t.test('SITES: one section per site, each with its own colors', async (t) => {
  const shop = await recordingUpstream(t)
  const apiBlue = await recordingUpstream(t)
  const apiGreen = await recordingUpstream(t)
  const proxy = await startColorProxy(t, {
    SITES: 'shop,api',
    SHOP_HOSTS: 'shop.localhost',
    SHOP_BLUE: shop.url,
    API_PATHS: '/api',
    API_BLUE: apiBlue.url,
    API_GREEN: apiGreen.url,
    API_GREEN_WEIGHT: '3',
  })
  for (let i = 0; i < 5; i++) await get(proxy.url, { headers: { host: 'shop.localhost' } })
  for (let i = 0; i < 8; i++) await get(`${proxy.url}/api/x`)
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 960, height: 900 } })
  await page.goto(`${proxy.admin}/`)
  const text = (selector: string) => page.locator(selector).textContent({ timeout: 5000 })
  t.match(await text('[data-site="shop"] h2'), /^shop shop\.localhost \/ · [\d.]+ requests\/s$/)
  t.match(await text('[data-site="api"] h2'), /^api any host \/api · /)
  t.equal(await text('[data-site="shop"] [data-color="blue"] .requests'), '5')
  t.equal(await page.locator('[data-site="shop"] tbody tr').count(), 1, 'shop has only its blue')
  t.equal(await text('[data-site="api"] [data-color="green"] .configured'), '75%')
  const api = Number(await text('[data-site="api"] [data-color="blue"] .requests'))
  t.equal(api + Number(await text('[data-site="api"] [data-color="green"] .requests')), 8)
  t.equal(await text('.total-requests'), '13')
  t.equal(await page.locator('section.site svg.chart').count(), 2, 'a chart per site')
})

t.test('CANARY: the step, share and next judgement, then the abort banner with its figures', async (t) => {
  const blue = await recordingUpstream(t)
  const green = await recordingUpstream(t, (_req, res) => {
    res.statusCode = 500
    res.end('broken')
  })
  // The browser first: the canary's first interval (2 s) starts with the proxy, not with Chromium's launch.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  t.teardown(() => browser.close())
  const proxy = await startColorProxy(t, {
    BLUE: blue.url,
    GREEN: green.url,
    CANARY: 'green',
    CANARY_STEPS: '50,100',
    CANARY_INTERVAL: '2s',
    CANARY_MIN_REQUESTS: '5',
  })
  const page = await browser.newPage({ viewport: { width: 960, height: 700 } })
  await page.goto(`${proxy.admin}/`)
  const text = (selector: string) => page.locator(selector).textContent({ timeout: 5000 })
  t.equal(await text('[data-canary="green"] .canary-state'), 'progressing')
  t.equal(await text('[data-canary="green"] .canary-share'), '50')
  t.match(
    await text('[data-canary="green"] p'),
    /^Canary green: step 1 of 2 \(50 → 100%\) · 50% of new traffic · progressing · next judgement in [12] s$/,
  )
  for (let i = 0; i < 40; i++) await get(proxy.url)
  await page.waitForSelector('.banner.aborted', { timeout: 10_000 })
  t.match(
    await text('.banner.aborted'),
    /^Canary green aborted: it gets no new traffic\. error rate 100% > 1% over \d+ answers$/,
  )
  t.match(
    await text('.canary-last'),
    /^Last judgement at 50%: error rate 100% \(max 1%\) · p99 \d+ ms \(max 1000 ms\) · \d+ answers \(min 5\) · fail$/,
  )
  t.equal(await text('[data-canary="green"] .canary-share'), '0')
})
