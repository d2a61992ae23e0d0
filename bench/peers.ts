// What users would pick instead of colorproxy, configured to do its job on one core: HAProxy (one thread)
// and Caddy (GOMAXPROCS=1, set by the caller), each with a 4:1 split, a header naming the pick, and pooled
// keep-alive connections to the two backends. Debian's haproxy 2.6 and caddy 2.6.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

type Backends = { blue: number; green: number }

function written(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-bench-'))
  chmodSync(dir, 0o755)
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

/**
 * HAProxy: rand(5) < 4 picks blue (4 in 5), each color a backend that sets `Color` and reuses its idle
 * server connections (http-reuse always); X-Forwarded-For as nginx and colorproxy add it.
 */
export function haproxyConfig(port: number, backends: Backends): string {
  return `global
  nbthread 1
  maxconn 8192
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option forwardfor
frontend proxy
  bind 127.0.0.1:${port} backlog 4096
  use_backend blue if { rand(5) lt 4 }
  default_backend green
backend blue
  http-reuse always
  http-request set-header Color blue
  server blue 127.0.0.1:${backends.blue}
backend green
  http-reuse always
  http-request set-header Color green
  server green 127.0.0.1:${backends.green}
`
}

/** The arguments that run HAProxy in the foreground on that configuration. */
export function haproxyArgs(port: number, backends: Backends): string[] {
  return ['-db', '-f', written('haproxy.cfg', haproxyConfig(port, backends))]
}

/**
 * Caddy 2.6 has no weighted policy (weighted_round_robin came in 2.7): blue is listed four times and green
 * once, in round robin. Its header names the upstream picked (Caddy has no per-upstream header), which is
 * the same work per request: one placeholder, one header.
 */
export function caddyfile(port: number, backends: Backends): string {
  const blue = `127.0.0.1:${backends.blue}`
  return `{
  admin off
  auto_https off
}
http://127.0.0.1:${port} {
  reverse_proxy ${[blue, blue, blue, blue].join(' ')} 127.0.0.1:${backends.green} {
    lb_policy round_robin
    header_up Color {http.reverse_proxy.upstream.hostport}
    transport http {
      keepalive 60s
      keepalive_idle_conns_per_host 64
    }
  }
}
`
}

/** The arguments that run Caddy on that Caddyfile. */
export function caddyArgs(port: number, backends: Backends): string[] {
  return ['run', '--adapter', 'caddyfile', '--config', written('Caddyfile', caddyfile(port, backends))]
}
