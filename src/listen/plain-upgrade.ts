// An Upgrade colorproxy does not proxy (`Upgrade: h2c` from `curl --http2`, `TLS/1.0`) is also an ordinary
// HTTP/1.1 request, and RFC 9110 section 7.8 lets a server ignore the Upgrade and answer it as one. Node
// has already handed the socket over as an upgrade, so the request goes back to Node's own parser: its
// head without the Upgrade, then the bytes that followed it, on the same socket. Node frames the body and
// any pipelined requests after it, exactly as for every other request.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

/** `Upgrade: websocket` on a GET: the one upgrade colorproxy proxies (RFC 6455 section 4.1). */
export function isWebSocket(req: IncomingMessage): boolean {
  return req.method === 'GET' && /(?:^|,)\s*websocket\s*(?:,|$)/i.test(req.headers.upgrade as string)
}

export function answerAsPlainRequest(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  /** Hands the socket to the listener's HTTP/1.1 parser. */
  reparse: (socket: Duplex) => void,
): void {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`]
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    let value = raw[i + 1] as string
    const key = name.toLowerCase()
    if (key === 'upgrade') continue
    if (key === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && token.toLowerCase() !== 'upgrade')
        .join(', ')
      if (value === '') continue
    }
    lines.push(`${name}: ${value}`)
  }
  // Node decoded the head as latin1; the same bytes go back.
  socket.unshift(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]))
  reparse(socket)
}
