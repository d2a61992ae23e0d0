// Clients that never stop asking while a rollout runs, counting the outcome of every request.
// Half keep their connection alive, half open a new one per request; some requests take 300 ms.
// A request is retried once only when it went out on a reused keep-alive socket that was reset before any
// byte of the answer came back (what browsers and Node's client do); anything else that is not a 200 with
// a known page is a failure.
import { EventEmitter, once } from 'node:events'
import { Agent, type IncomingMessage, request } from 'node:http'
import https from 'node:https'

export interface LoadOptions {
  url: string
  clients: number
  /** Of every `slowEvery` requests one asks for ?delay=300. */
  slowEvery: number
  /** An https:// url: the CA that signed the proxy's certificate for `localhost`. */
  ca?: string
}

export interface LoadReport {
  requests: number
  failures: number
  retries: number
  /** The first few failures, for the report. */
  failed: string[]
}

/** `blue myapp-v1\n` → blue; `\n<h1>myapp-v2 (green)</h1>\n` → green. */
export function colorOf(body: string): string | undefined {
  return /^([a-z][a-z0-9-]*) \S+\n$/.exec(body)?.[1] ?? /^\n<h1>.* \(([^)]+)\)<\/h1>\n$/.exec(body)?.[1]
}

export class Load extends EventEmitter {
  readonly report: LoadReport = { requests: 0, failures: 0, retries: 0, failed: [] }
  /** Answers per color since the last phase() call. */
  private split = new Map<string, number>()
  private answered = 0
  private failedInPhase = 0
  private stopped = false
  private readonly running: Promise<void>[] = []

  constructor(private readonly options: LoadOptions) {
    super()
  }

  start(): void {
    for (let i = 0; i < this.options.clients; i++) this.running.push(this.client(i))
  }

  async stop(): Promise<LoadReport> {
    this.stopped = true
    await Promise.all(this.running)
    return this.report
  }

  /** Starts counting the split afresh; returns the shares (percent) seen since the previous call. */
  phase(): Map<string, number> {
    const shares = new Map(
      [...this.split].map(([color, n]) => [color, Math.round((n / this.answered) * 1000) / 10]),
    )
    this.split = new Map()
    this.answered = 0
    this.failedInPhase = 0
    return shares
  }

  /**
   * Resolves once `count` answers have been counted in this phase, or as many requests have failed in it
   * (so a rollout that breaks everything ends with its failures counted instead of waiting forever).
   */
  async answers(count: number): Promise<void> {
    while (this.answered < count && this.failedInPhase < count) await once(this, 'outcome')
  }

  private async client(index: number): Promise<void> {
    const { ca } = this.options
    const tls = ca === undefined ? undefined : { ca, servername: 'localhost' }
    const kept = () => (tls ? new https.Agent({ keepAlive: true, ...tls }) : new Agent({ keepAlive: true }))
    // A connection per request: with TLS, an agent that keeps none (its options carry the CA).
    const agent =
      index % 2 === 0 ? kept() : tls && new https.Agent({ keepAlive: false, maxCachedSessions: 0, ...tls })
    for (let n = 0; !this.stopped; n++) {
      const path = (n + index) % this.options.slowEvery === 0 ? '/?delay=300' : '/'
      await this.one(path, agent)
    }
    agent?.destroy()
  }

  private async one(path: string, agent: Agent | undefined): Promise<void> {
    this.report.requests++
    let outcome = await send(`${this.options.url}${path}`, agent)
    if (outcome.resetOnReuse) {
      this.report.retries++
      outcome = await send(`${this.options.url}${path}`, agent)
    }
    const color = outcome.body === undefined ? undefined : colorOf(outcome.body)
    if (outcome.status !== 200 || color === undefined) {
      this.report.failures++
      this.failedInPhase++
      this.emit('outcome')
      const what = outcome.error ?? `${outcome.status} ${JSON.stringify(outcome.body)}`
      if (this.report.failed.length < 10) this.report.failed.push(`${path}: ${what}`)
      return
    }
    this.split.set(color, (this.split.get(color) ?? 0) + 1)
    this.answered++
    this.emit('outcome')
  }
}

interface Outcome {
  status?: number
  body?: string
  error?: string
  resetOnReuse?: boolean
}

async function send(url: string, agent: Agent | undefined): Promise<Outcome> {
  const req =
    agent instanceof https.Agent ? https.request(url, { agent }) : request(url, { agent: agent ?? false })
  req.end()
  let res: IncomingMessage
  try {
    ;[res] = (await once(req, 'response')) as [IncomingMessage]
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException
    // No byte of an answer arrived: retryable only on a reused socket that was reset.
    return { error: `${code ?? ''} ${message}`, resetOnReuse: req.reusedSocket && code === 'ECONNRESET' }
  }
  try {
    let body = ''
    res.setEncoding('utf8')
    for await (const chunk of res) body += chunk
    return { status: res.statusCode, body }
  } catch (error) {
    // The answer started and was cut off: a failure, never retried.
    return { error: `answer cut off: ${(error as Error).message}` }
  }
}
