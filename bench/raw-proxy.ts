// The bare proxy on colorproxy's own engine (issue 14's route (c), src/upstream-connection.ts), for
// measuring only: node:http faces the client, and the upstream side is pooled node:net sockets whose
// answers are framed by Node's own llhttp (src/llhttp.ts). Heads are parsed, bodies are written through as
// they come. No features, no checks, no error handling beyond a 502: what colorproxy's features cost is
// colorproxy's figure against this one.
// Usage: node dist/bench/raw-proxy.js <port> <upstream host> <upstream port>
import { createServer, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { HTTPParser } from '../src/upstream/llhttp.js'

const [port, host, upstreamPort] = process.argv.slice(2) as [string, string, string]
const hostHeader = `${host}:${upstreamPort}`

/** One pooled upstream connection and the client response its current answer goes to. */
class Connection {
  readonly socket: Socket
  res: ServerResponse | undefined
  private readonly parser = new HTTPParser()
  private pending: string[] = []

  constructor(private readonly idle: Connection[]) {
    this.socket = connect(Number(upstreamPort), host)
    this.socket.setNoDelay(true)
    this.parser.initialize(HTTPParser.RESPONSE, {}, 0, 0)
    this.parser[HTTPParser.kOnHeaders] = (headers: string[]) => this.pending.push(...headers)
    this.parser[HTTPParser.kOnHeadersComplete] = this.head.bind(this)
    this.parser[HTTPParser.kOnBody] = (chunk: Buffer) => this.res?.write(chunk)
    this.parser[HTTPParser.kOnMessageComplete] = () => {
      this.res?.end()
      this.res = undefined
      this.idle.push(this)
    }
    this.socket.on('data', (data) => this.parser.execute(data))
    this.socket.on('error', () => this.fail())
    this.socket.on('close', () => this.fail())
  }

  private head(_major: number, _minor: number, headers: string[] | undefined, ...rest: unknown[]): void {
    const statusCode = rest[2] as number
    const fields = headers ?? this.pending
    this.pending = []
    const out: string[] = []
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i] as string
      if (name.length === 10 && name.toLowerCase() === 'connection') continue
      if (name.length === 10 && name.toLowerCase() === 'keep-alive') continue
      out.push(name, fields[i + 1] as string)
    }
    this.res?.writeHead(statusCode, out)
  }

  private fail(): void {
    const index = this.idle.indexOf(this)
    if (index !== -1) this.idle.splice(index, 1)
    if (this.res && !this.res.headersSent) this.res.writeHead(502).end()
    else this.res?.destroy()
    this.res = undefined
  }
}

const idle: Connection[] = []
createServer((req, res) => {
  const connection = idle.pop() ?? new Connection(idle)
  connection.res = res
  connection.socket.write(
    `${req.method} ${req.url} HTTP/1.1\r\nhost: ${hostHeader}\r\ncolor: blue\r\n\r\n`,
    'latin1',
  )
}).listen(Number(port), '127.0.0.1')
