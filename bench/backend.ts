// The bench's backends when nginx is not installed: `blue bench\n` and `green bench\n` from node:http.
// Usage: node dist/bench/backend.js <blue port> <green port>
import { createServer } from 'node:http'

const [bluePort, greenPort] = process.argv.slice(2).map(Number)
for (const [color, port] of [
  ['blue', bluePort],
  ['green', greenPort],
] as const) {
  const body = Buffer.from(`${color} bench\n`)
  createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length })
    res.end(body)
  }).listen(port, '127.0.0.1').keepAliveTimeout = 60_000
}
