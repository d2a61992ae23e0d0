// The bench's bare engines: node:http in front of one undici Pool, no features at all (no color, no
// header rules, no metrics, no log). What a proxy on this engine costs before colorproxy adds anything.
//   stream:   Pool.stream, one Writable and one promise-less callback per request (colorproxy before issue 14)
//   dispatch: Pool.dispatch with a plain handler object that writes straight to the client's response
// Usage: node dist/bench/bare-proxy.js <stream|dispatch> <port> <upstream origin> [pipelining, default 1]
import { createServer, type ServerResponse } from 'node:http'
import { Pool, type Dispatcher } from 'undici'

const [mode, port, origin, pipelining = '1'] = process.argv.slice(2) as [string, string, string, string?]
const pool = new Pool(origin, { keepAliveTimeout: 60_000, pipelining: Number(pipelining) })

/** The response's head and body as undici's raw handler calls hand them over. */
class Handler implements Dispatcher.DispatchHandler {
  constructor(private readonly res: ServerResponse) {}
  onConnect(): void {}
  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    const head: string[] = []
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = (rawHeaders[i] as Buffer).toString('latin1')
      if (name.length === 10 && name.toLowerCase() === 'connection') continue
      head.push(name, (rawHeaders[i + 1] as Buffer).toString('latin1'))
    }
    this.res.writeHead(statusCode, head)
    return true
  }
  onData(chunk: Buffer): boolean {
    return this.res.write(chunk)
  }
  onComplete(): void {
    this.res.end()
  }
  onError(): void {
    if (this.res.headersSent) this.res.destroy()
    else this.res.writeHead(502).end()
  }
}

createServer((req, res) => {
  const options = {
    path: req.url as string,
    method: req.method as Dispatcher.HttpMethod,
    headers: req.headers,
  }
  if (mode === 'dispatch') {
    pool.dispatch(options, new Handler(res))
    return
  }
  pool.stream(
    options,
    ({ statusCode, headers }) => {
      delete headers.connection
      res.writeHead(statusCode, headers)
      return res
    },
    (error) => {
      if (error && !res.headersSent) res.writeHead(502).end()
    },
  )
}).listen(Number(port), '127.0.0.1')
