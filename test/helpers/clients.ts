// What talks to the proxy in a test: a real HTTP client, and a raw connection for exact bytes.
import { once } from 'node:events'
import http, { type IncomingHttpHeaders } from 'node:http'
import { connect as netConnect } from 'node:net'
import { until } from './wait.js'

export interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/** One request; `agent` decides keep-alive (default: a fresh connection that closes). */
export async function get(
  url: string,
  options: { method?: string; headers?: Record<string, string>; agent?: http.Agent; body?: string } = {},
): Promise<Answer> {
  const req = http.request(url, {
    method: options.method ?? 'GET',
    headers: options.headers,
    agent: options.agent ?? false,
  })
  req.end(options.body)
  const [res] = (await once(req, 'response')) as [http.IncomingMessage]
  let body = ''
  res.setEncoding('utf8')
  for await (const chunk of res) body += chunk
  return { status: res.statusCode ?? 0, headers: res.headers, body }
}

/** A raw connection to send exactly the bytes a test needs and read back every byte of the reply. */
export function rawConnection(port: number) {
  const socket = netConnect(port, '127.0.0.1')
  let text = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk
  })
  // A reset is an outcome the test inspects, not a crash.
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return {
    socket,
    /** Everything received so far. */
    get text() {
      return text
    },
    /** Resolves once the reply so far contains `part`. */
    received: (part: string) => until(() => text.includes(part), socket, 'data'),
    /** Resolves when the connection is closed, by either side. */
    closed: () => closed,
  }
}
