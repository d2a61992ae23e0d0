// nginx configurations for the bench: the two backends (a fixed body per color), and the reference proxy
// that does what colorproxy does (a 4:1 split, the Color header, keep-alive to the backends).
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Settings every bench nginx shares: one worker, in the foreground, files in its own directory. */
function common(dir: string): string {
  return `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
`
}

function http(dir: string, body: string): string {
  return `
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
${body}
}
`
}

/** Writes a configuration into a new directory and returns the nginx arguments that run it. */
function write(name: string, text: string, dir: string): string[] {
  const file = join(dir, `${name}.conf`)
  writeFileSync(file, text)
  return ['-p', dir, '-e', join(dir, 'error.log'), '-c', file]
}

function directory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'colorproxy-bench-'))
  // nginx's worker may run as another user than its master (root's workers run as nobody).
  chmodSync(dir, 0o755)
  return dir
}

/** Two backends in one nginx: `blue bench\n` and `green bench\n`, as myapp would answer. */
export function backendsConfig(ports: { blue: number; green: number }): string[] {
  const dir = directory()
  const server = (color: string, port: number) => `
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { default_type text/plain; return 200 "${color} bench\\n"; }
  }`
  return write(
    'backends',
    common(dir) + http(dir, server('blue', ports.blue) + server('green', ports.green)),
    dir,
  )
}

/** nginx as a colorproxy: split_clients 4:1, `Color: blue|green` to the backend, pooled connections. */
export function proxyConfig(port: number, backends: { blue: number; green: number }): string[] {
  const dir = directory()
  return write('proxy', common(dir) + http(dir, proxyServer(`${port}`, backends, '')), dir)
}

/** The split, the pools and the server block both nginx proxies share; `extra` goes in the server. */
function proxyServer(listen: string, backends: { blue: number; green: number }, extra: string): string {
  return `
  split_clients "\${request_id}" $color { 80% blue; * green; }
  upstream blue { server 127.0.0.1:${backends.blue}; keepalive 64; }
  upstream green { server 127.0.0.1:${backends.green}; keepalive 64; }
  server {
    listen 127.0.0.1:${listen} backlog=4096;${extra}
    location / {
      proxy_pass http://$color;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Color $color;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }`
}

/**
 * The same nginx proxy terminating TLS as colorproxy does: HTTP/2 and HTTP/1.1 by ALPN on one port, the
 * same certificate (a P-256 key), TLS 1.2 and up.
 */
export function tlsProxyConfig(
  port: number,
  backends: { blue: number; green: number },
  tls: { certFile: string; keyFile: string },
): string[] {
  const dir = directory()
  const extra = `
    ssl_certificate ${tls.certFile};
    ssl_certificate_key ${tls.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;`
  return write('tls-proxy', common(dir) + http(dir, proxyServer(`${port} ssl http2`, backends, extra)), dir)
}
