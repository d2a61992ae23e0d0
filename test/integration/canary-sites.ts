// With SITES, a canary's log lines name the site whose canary it is, as its startup lines do.
import t from 'tap'
import { startColorProxy } from '../helpers/proxy.js'
import { recordingUpstream } from '../helpers/upstreams.js'

t.test(
  "a site's canary lines start with the site's name; the default site's read as they always have",
  async (t) => {
    const blue = await recordingUpstream(t)
    const green = await recordingUpstream(t)
    const proxy = await startColorProxy(t, {
      BLUE: blue.url,
      GREEN: green.url,
      CANARY: 'green',
      SITES: 'api',
      API_PATHS: '/api',
      API_BLUE: blue.url,
      API_GREEN: green.url,
      LOG_LEVEL: 'info',
    })
    const starts = await proxy.line(
      (line) => /canary green starts/.test(String(line.msg)) && line.site === 'api',
    )
    t.equal(starts.msg, 'api: canary green starts at 5%, judged every 60000 ms')
    const fallback = await proxy.line(
      (line) => /canary green starts/.test(String(line.msg)) && line.site === 'default',
    )
    t.equal(fallback.msg, 'canary green starts at 5%, judged every 60000 ms')
  },
)
