// The bench's arithmetic: what it reads from wrk or autocannon and the medians it reports. (The bench
// itself runs with npm run bench, never in the test suite.)
import t from 'tap'
import { parseAutocannon } from '../../bench/autocannon.js'
import { cpuSeconds } from '../../bench/proc.js'
import { gcPauses, Timeline, timelineTables } from '../../bench/timeline.js'
import { durationMs, median, parseH2load, parseWrk } from '../../bench/wrk.js'

const WRK = `Running 10s test @ http://127.0.0.1:8080/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.83ms    2.11ms  48.20ms   91.02%
    Req/Sec     6.52k   312.40     7.01k    78.00%
  Latency Distribution
     50%    9.41ms
     75%   10.20ms
     90%   11.57ms
     99%   17.90ms
  64912 requests in 10.01s, 9.72MB read
  Socket errors: connect 3, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   6484.71
Transfer/sec:      0.97MB
`

t.test('reads req/s, p50, p99, the request count and every kind of error from wrk --latency', async (t) => {
  t.same(parseWrk(WRK), {
    requestsPerSecond: 6484.71,
    p50Ms: 9.41,
    p99Ms: 17.9,
    requests: 64912,
    errors: 10,
    connectErrors: 3,
  })
  const clean = WRK.replace(/ {2}Socket errors.*\n {2}Non-2xx.*\n/, '')
  t.equal(parseWrk(clean).errors, 0, 'no error lines: no errors')
})

t.test('says what is missing when wrk printed something else', async (t) => {
  t.throws(
    () => parseWrk(WRK.replace(/ {2}Latency Distribution[\s\S]*?99%.*\n/, '')),
    /50% latency \(was --latency given\?\)/,
  )
  t.throws(
    () => parseWrk('unable to connect to 127.0.0.1:8080 Connection refused\n'),
    /no Requests\/sec line/,
  )
})

t.test('durations in every unit wrk uses', async (t) => {
  t.equal(durationMs('850.00us'), 0.85)
  t.equal(durationMs('1.50ms'), 1.5)
  t.equal(durationMs('2.00s'), 2000)
  t.equal(durationMs('1.00m'), 60_000)
  t.throws(() => durationMs('12kb'), /not a wrk duration: "12kb"/)
})

t.test('median of odd and even counts, and of nothing', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.ok(Number.isNaN(median([])))
})

t.test('reads req/s, p50, p99, the request count and errors from autocannon --json', async (t) => {
  const json = JSON.stringify({
    duration: 10.02,
    errors: 2,
    timeouts: 1,
    non2xx: 4,
    latency: { p50: 9, p99: 18 },
    requests: { total: 50100, average: 5010 },
  })
  t.same(parseAutocannon(json), {
    requestsPerSecond: 5000,
    p50Ms: 9,
    p99Ms: 18,
    requests: 50100,
    errors: 7,
    connectErrors: 0,
  })
})

t.test('parseH2load reads rate, mean latency and failures; p99 is unknown', async (t) => {
  const output = `finished in 3.00s, 5912.33 req/s, 450.12KB/s
requests: 17737 total, 17737 started, 17737 done, 17730 succeeded, 4 failed, 2 errored, 1 timeout
status codes: 17733 2xx, 0 3xx, 0 4xx, 4 5xx
                     min         max         mean         sd        +/- sd
time for request:      1.23ms     45.67ms     10.16ms      3.21ms    80.00%
`
  const result = parseH2load(output)
  t.match(result, { requestsPerSecond: 5912.33, p50Ms: 10.16, errors: 7, requests: 17737 })
  t.ok(Number.isNaN(result.p99Ms))
  t.ok(Number.isNaN(parseH2load('nothing').requestsPerSecond))
})

t.test("a process's CPU seconds come from /proc and grow as it works", async (t) => {
  const before = cpuSeconds(process.pid)
  // Busy until the process's own count says 200 ms of CPU: a wall-clock loop on a loaded machine may get
  // far less than its length (a CI run saw under 50 ms in 100).
  const start = process.cpuUsage()
  for (;;) {
    const used = process.cpuUsage(start)
    if (used.user + used.system >= 200_000) break
  }
  // /proc counts in clock ticks (10 ms), and the kernel may hold its figure back a while as it splits the
  // time into user and system (a loaded run once read less than 90 ms of 100): half is the test.
  t.ok(cpuSeconds(process.pid) >= before + 0.1, '/proc says what the process used')
  t.equal(cpuSeconds(2 ** 22 + 1), 0, 'a process that is not there used none')
})

t.test(
  'the timeline: latency per 5 s window, and per tenth of the connections with their first requests',
  async (t) => {
    const timeline = new Timeline(20)
    // Connections 0..19, one request each in the first window; the last two were accepted late (900 ms).
    for (let c = 0; c < 20; c++) timeline.add(c, 100, c >= 18 ? 900 : 2)
    // Then a second request on each, in the second window, all fast.
    for (let c = 0; c < 20; c++) timeline.add(c, 6000, 3)
    const summary = timeline.summary()
    t.same(
      summary.windows.map((w) => [w.requests, w.p50Ms, w.maxMs]),
      [
        [20, 2, 900],
        [20, 3, 3],
      ],
    )
    t.equal(summary.byOrder.length, 10)
    t.match(summary.byOrder[0], { requests: 4, firstP50Ms: 2, firstMaxMs: 2 })
    t.match(summary.byOrder[9], { requests: 4, firstP50Ms: 900.1, firstMaxMs: 900, p50Ms: 3 })
    const lines = timelineTables(summary)
    t.equal(
      lines[2],
      '| 0 | 20 | 2 | 900.1 | 900 |',
      'HdrHistogram: percentiles read as the highest equivalent value',
    )
    t.equal(lines.at(-1), '| 90–100% | 4 | 3 | 900.1 | 900 | 900.1 | 900 |')
  },
)

t.test('GC pauses from --trace-gc (Node 20 and Node 26 lines), counted only inside the window', async (t) => {
  const trace = [
    '[7:0x1]      900 ms: Scavenge 3.8 (4.0) -> 3.4 (5.0) MB, 6.24 / 0.00 ms  (average mu = 1.000) allocation failure;',
    '[7:0x1]     1200 ms: Scavenge 4.1 (5.2) -> 3.8 (5.9) MB, 0.92 / 0.00 ms  (average mu = 1.000) allocation failure;',
    '[7:0x1]     1500 ms: Mark-Compact (reduce) 59.5 (78.3) -> 43.0 (77.4) MB, 12.50 / 0.00 ms  (+ 1.5 ms in 12 steps) finalize;',
    '[7:0x1]     1700 ms: Scavenge 4.1 (5.2) -> 3.8 (5.9) MB, 1.10 / 0.00 ms  (average mu = 1.000) allocation failure;',
    '[7:0x1]     1800 ms: Scavenge 5.2 (7.3) -> 4.9 (7.9) MB, pooled: 0.0 MB, 5.58 / 0.00 ms (average mu = 1.000, current mu = 1.000) allocation failure; ',
    '{"level":40,"msg":"not a GC line"}',
  ].join('\n')
  t.same(gcPauses(trace, 1000, 2000), {
    scavenges: 3,
    markCompacts: 1,
    maxScavengeMs: 5.58,
    maxMarkCompactMs: 12.5,
  })
})
