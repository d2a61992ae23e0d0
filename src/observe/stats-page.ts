// GET / on the admin listener: the stats page. The server renders the numbers (the page is useful without
// JavaScript); a few lines of inline script fetch the same fragment again every second. No build step, no
// external resources.
import type { FleetView } from '../fleet/fleet.js'
import type { CanaryView } from '../canary/controller.js'
import type { CertificateLife, ColorStats, SiteSnapshot, SitesSnapshot, StatsSnapshot } from './stats.js'

const PALETTE: Record<string, string> = { blue: '#2563eb', green: '#16a34a' }
const OTHERS = ['#d97706', '#9333ea', '#dc2626', '#0891b2', '#65a30d', '#db2777']

function colorOf(name: string, index: number): string {
  return PALETTE[name] ?? (OTHERS[index % OTHERS.length] as string)
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  )
}

const ms = (value: number | null) => (value === null ? '–' : `${value} ms`)

/** Whether the color takes new traffic now, and if not why: ejected, addresses out, or drained. */
function health(color: ColorStats): string {
  if (color.ejected) return 'out: ejected after connect failures'
  const out = color.unhealthy.length
  if (out > 0) return `${out} address${out === 1 ? '' : 'es'} out (health checks)`
  return color.weight === 0 ? 'ready, weight 0' : 'ready'
}

function row(color: ColorStats, index: number): string {
  const name = escapeHtml(color.name)
  const state = color.ejected ? '<span class="ejected">ejected</span>' : color.weight === 0 ? 'draining' : ''
  const unhealthy = color.unhealthy.length
    ? ` <span class="ejected unhealthy">unhealthy: ${escapeHtml(color.unhealthy.join(', '))}</span>`
    : ''
  return `<tr data-color="${name}">
<td><span class="swatch" style="background:${colorOf(color.name, index)}"></span>${name} ${state}${unhealthy}</td>
<td class="health">${health(color)}</td>
<td class="weight">${color.weight}</td>
<td class="configured">${color.configured}%</td>
<td class="observed">${color.observed}%</td>
<td class="rate">${color.rate}/s</td>
<td class="errors">${color.errorRate}%</td>
<td class="p50">${ms(color.p50Ms)}</td>
<td class="p99">${ms(color.p99Ms)}</td>
<td class="requests">${color.requests}</td>
<td class="ejections">${color.ejections}</td>
</tr>`
}

const CHART = { width: 960, height: 140, left: 40, bottom: 18 }

/**
 * Stacked columns: each 10 s step's split, oldest on the left, across the page's width; a share scale on
 * the left (0–100%), the time below (5 min ago → now), and a legend of the colors.
 */
function chart(snapshot: StatsSnapshot): string {
  const { width, height, left, bottom } = CHART
  const plot = { width: width - left, height: height - bottom }
  const step = plot.width / Math.max(1, snapshot.history.length)
  const bars = snapshot.history.map((column, i) => {
    const x = (left + i * step).toFixed(1)
    const w = Math.max(1, step - 1).toFixed(1)
    if (column.requests === 0)
      return `<rect x="${x}" y="0" width="${w}" height="${plot.height}" fill="#eee"/>`
    let y = 0
    return snapshot.colors
      .map((color, index) => {
        const h = ((column.shares[color.name] ?? 0) / 100) * plot.height
        const rect = `<rect x="${x}" y="${y.toFixed(1)}" width="${w}" height="${h.toFixed(1)}" fill="${colorOf(color.name, index)}"><title>${escapeHtml(color.name)} ${column.shares[color.name]}%, ${column.secondsAgo}s ago</title></rect>`
        y += h
        return rect
      })
      .join('')
  })
  const scale = [100, 50, 0].map((percent) => {
    const y = ((100 - percent) / 100) * plot.height
    return `<text class="axis" x="${left - 4}" y="${Math.min(plot.height, Math.max(9, y + 4)).toFixed(1)}" text-anchor="end">${percent}%</text><line x1="${left}" x2="${width}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ccc" stroke-width="0.5"/>`
  })
  const oldest = snapshot.history[0]?.secondsAgo ?? 0
  const times = [0, 1, 2, 3, 4].map((minutes) => {
    const x = left + plot.width * (1 - (minutes * 60) / Math.max(60, oldest + 10))
    return x < left
      ? ''
      : `<text class="axis" x="${x.toFixed(1)}" y="${height - 4}" text-anchor="${minutes === 0 ? 'end' : 'middle'}">${minutes === 0 ? 'now' : `−${minutes} min`}</text>`
  })
  const legend = snapshot.colors
    .map(
      (color, index) =>
        `<span class="legend"><span class="swatch" style="background:${colorOf(color.name, index)}"></span>${escapeHtml(color.name)}</span>`,
    )
    .join(' ')
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="split over the last 5 minutes">${bars.join('')}${scale.join('')}${times.join('')}</svg>
<p class="chart-legend">${legend} · share of each 10 s of requests; grey: none</p>`
}

/** The part of the page that changes: fetched again every second. One section per site. */
export function renderLive(snapshot: SitesSnapshot): string {
  // One site (no SITES): no site heading, as the page always was.
  const headed = snapshot.sites.length > 1 || snapshot.sites.some((site) => site.site !== 'default')
  return `<p class="summary"><span class="total-rate">${snapshot.rate}</span> requests/s · <span class="total-requests">${snapshot.requests}</span> requests · up ${snapshot.uptimeS} s</p>
${snapshot.fleet ? fleetTable(snapshot.fleet) : ''}${snapshot.sites.map((site) => renderSite(site, headed)).join('\n')}${snapshot.certificates ? certificatesTable(snapshot.certificates) : ''}`
}

/** FLEET_STORE: every member alive, each site's step, share and traffic, who leads, the fleet's totals. */
function fleetTable(fleet: FleetView): string {
  const leads = new Set(Object.values(fleet.leaders))
  const rows = fleet.members.map((member) => {
    const sites = member.sites
      .map((site) => {
        const canary = site.canary
          ? ` · canary ${site.canary.state} at ${site.canary.share}% (step ${site.canary.step})`
          : ''
        return `${escapeHtml(site.site)}: ${site.rate} req/s, ${site.requests} requests${canary}`
      })
      .join('<br>')
    const who = `${escapeHtml(member.id)}${member.id === fleet.me ? ' (this one)' : ''}${leads.has(member.id) ? ' · leads' : ''}`
    return `<tr data-member="${escapeHtml(member.id)}"><td>${who}</td><td>${member.startedAt.slice(0, 19).replace('T', ' ')} UTC</td><td>${sites}</td></tr>`
  })
  const alone = fleet.reachable
    ? ''
    : `<p class="short">the store ${escapeHtml(fleet.store)} cannot be reached: this replica judges its canary alone on what it last knew</p>`
  return `
<section class="fleet">
<h2>Fleet ${escapeHtml(fleet.name)}: <span class="fleet-members">${fleet.totals.members}</span> alive · ${fleet.totals.rate} req/s · ${fleet.totals.requests} requests</h2>
${alone}<table>
<thead><tr><th>member</th><th>started</th><th>sites</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</section>
`
}

/** Each served certificate: its names, where it comes from, its end and what is left of its life. */
function certificatesTable(certificates: CertificateLife[]): string {
  const rows = certificates.map(
    (one) =>
      `<tr data-names="${escapeHtml(one.names.join(','))}"><td>${escapeHtml(one.names.join(', '))}</td><td>${one.source}</td><td>${one.notAfter.slice(0, 16).replace('T', ' ')} UTC</td><td class="${one.remainingS < 7 * 86_400 ? 'short' : ''}">${life(one.remainingS)}</td></tr>`,
  )
  return `
<section class="certificates">
<h2>Certificates</h2>
<table>
<thead><tr><th>names</th><th>source</th><th>valid until</th><th>left</th></tr></thead>
<tbody>
${rows.length > 0 ? rows.join('\n') : '<tr><td colspan="4">none served yet</td></tr>'}
</tbody>
</table>
</section>`
}

/** A remaining life in the unit that reads best: `89 days`, `5 h`, `40 min`, `expired`. */
export function life(seconds: number): string {
  if (seconds <= 0) return 'expired'
  if (seconds >= 2 * 86_400) return `${Math.floor(seconds / 86_400)} days`
  if (seconds >= 2 * 3600) return `${Math.floor(seconds / 3600)} h`
  return `${Math.max(1, Math.floor(seconds / 60))} min`
}

function renderSite(site: SiteSnapshot, headed: boolean): string {
  const name = escapeHtml(site.site)
  const heading = headed
    ? `<h2 class="site-name">${name} <span class="serves">${escapeHtml(site.serves)}</span> · <span class="site-rate">${site.rate}</span> requests/s</h2>\n`
    : ''
  return `<section class="site" data-site="${name}">
${heading}${site.canary ? canaryPanel(site.canary) : ''}${table(site)}
</section>`
}

/** CANARY: the step, the share, the time to the next judgement, the last one's figures, and a banner at the end. */
function canaryPanel(canary: CanaryView): string {
  const color = escapeHtml(canary.color)
  const last = canary.last
  const why = last ? escapeHtml(last.why) : ''
  const banner =
    canary.state === 'aborted'
      ? `<p class="banner aborted">Canary ${color} aborted: it gets no new traffic. ${why}</p>\n`
      : canary.state === 'promoted'
        ? `<p class="banner promoted">Canary ${color} promoted at ${canary.share}%. ${why}</p>\n`
        : ''
  const next =
    canary.judgeInMs === null
      ? ''
      : ` · next judgement in <span class="canary-next">${Math.ceil(canary.judgeInMs / 1000)}</span> s`
  const figures = last
    ? `<p class="canary-last">Last judgement at ${last.share}%: error rate <span class="canary-errors">${last.errorRate}%</span> (max ${canary.maxErrorRate}%) · p99 <span class="canary-p99">${ms(last.p99Ms)}</span> (max ${canary.maxP99Ms} ms) · ${last.answers} answers (min ${canary.minRequests}) · ${last.verdict}</p>\n`
    : ''
  return `<div class="canary" data-canary="${color}" data-state="${canary.state}">
${banner}<p>Canary <b>${color}</b>: step <span class="canary-step">${canary.step}</span> of ${canary.steps.length} (${canary.steps.join(' → ')}%) · <span class="canary-share">${canary.share}</span>% of new traffic · <span class="canary-state">${canary.state}</span>${next}</p>
${figures}</div>
`
}

function table(snapshot: StatsSnapshot): string {
  return `<table>
<thead><tr><th>color</th><th>health</th><th>weight</th><th>configured</th><th>observed (1 min)</th><th>rate (10 s)</th><th>5xx (1 min)</th><th>p50</th><th>p99</th><th>requests</th><th>ejections</th></tr></thead>
<tbody>
${snapshot.colors.map(row).join('\n')}
</tbody>
</table>
<h3>Split, last 5 minutes</h3>
${chart(snapshot)}`
}

export function renderStatsPage(snapshot: SitesSnapshot): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>colorproxy</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #111; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; } h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; } h3 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
.serves { font-weight: 400; color: #555; font-size: .9rem; } .site-rate { font-weight: 400; }
.canary { margin: .5rem 0 1rem; } .canary p { margin: .3rem 0; } .canary-last { color: #444; }
.banner { padding: .5rem .8rem; border-radius: 4px; font-weight: 600; } .banner.aborted { background: #fee2e2; color: #991b1b; } .banner.promoted { background: #dcfce7; color: #166534; }
table { border-collapse: collapse; } th, td { padding: .3rem .8rem; text-align: right; border-bottom: 1px solid #ddd; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; } th { font-weight: 600; color: #444; }
.swatch { display: inline-block; width: .8em; height: .8em; margin-right: .4em; border-radius: 2px; }
.ejected, .short { color: #b91c1c; font-weight: 600; } .summary { color: #444; } .chart { display: block; width: 100%; height: auto; } .axis { font-size: 10px; fill: #555; } .legend { margin-right: .8em; }
footer { margin-top: 1.5rem; color: #666; font-size: 13px; }
</style>
</head>
<body>
<h1>colorproxy</h1>
<div id="live">
${renderLive(snapshot)}
</div>
<footer>Updates every second. JSON: <a href="stats.json">stats.json</a> · Prometheus: <a href="metrics">metrics</a> · <a href="config">config</a></footer>
<script>
setInterval(async () => {
  try {
    const res = await fetch('?part=live', { cache: 'no-store' })
    if (res.ok) document.getElementById('live').innerHTML = await res.text()
  } catch {}
}, 1000)
</script>
</body>
</html>
`
}
