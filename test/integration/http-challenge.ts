// HTTP-01 answers on the plain port, from the store any replica wrote to: exact bytes for a known token (also
// while HTTPS_REDIRECT=true), and every other request under the prefix goes on as it did before ACME.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { rawConnection } from '../helpers/clients.js'
import { startColorProxy } from '../helpers/proxy.js'
import { recordingUpstream, refusedPort, type Teardown } from '../helpers/upstreams.js'

const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0'
const ANSWER = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`

/** ACME=true on `store` for a.test, in front of `blue`. */
async function acmeProxy(t: Teardown, blue: string, store: string, env: Record<string, string> = {}) {
  return startColorProxy(t, {
    BLUE: blue,
    ACME: 'true',
    ACME_EMAIL: 'ops@example.com',
    ACME_DOMAINS: 'a.test',
    // No CA answers here: the order fails and is retried later, which these tests do not wait for.
    ACME_DIRECTORY: `https://127.0.0.1:${await refusedPort()}/dir`,
    ACME_STORE: store,
    ...env,
  })
}

t.test('a token in the store is answered as it is, before HTTPS_REDIRECT and any site', async (t) => {
  const store = mkdtempSync(join(tmpdir(), 'colorproxy-acme-'))
  // Written by another replica's order: this one never saw the token.
  mkdirSync(join(store, 'challenges', 'http-01'), { recursive: true })
  writeFileSync(join(store, 'challenges', 'http-01', TOKEN), ANSWER)
  const upstream = await recordingUpstream(t, (req, res) => res.end(`backend ${req.method} ${req.url}\n`))
  const proxy = await acmeProxy(t, upstream.url, store, { HTTPS_REDIRECT: 'true' })
  const ask = async (method: string, path: string) => {
    const client = rawConnection(proxy.port)
    client.socket.write(`${method} ${path} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n`)
    await client.closed()
    return client.text
  }
  const path = `/.well-known/acme-challenge/${TOKEN}`
  const got = await ask('GET', path)
  t.match(got, /^HTTP\/1\.1 200 OK\r\n/)
  t.equal(got.slice(got.indexOf('\r\n\r\n') + 4), ANSWER, 'the key authorization, byte for byte')
  const head = await ask('HEAD', path)
  t.match(
    head,
    new RegExp(`^HTTP/1\\.1 200 OK\\r\\n[^]*content-length: ${ANSWER.length}\\r\\n[^]*\\r\\n\\r\\n$`, 'i'),
  )
  t.match(await ask('POST', path), /backend POST \/\.well-known/, 'another method goes on to the backend')
  t.match(
    await ask('GET', '/.well-known/acme-challenge/unknownTokenUnknownToken'),
    /backend GET /,
    'an unknown token too',
  )
  t.match(
    await ask('GET', '/.well-known/acme-challenge/..%2f..%2fetc'),
    /backend GET /,
    'and what is no token',
  )
  t.match(await ask('GET', '/elsewhere'), /^HTTP\/1\.1 308 /, 'the rest is redirected')
  t.equal(upstream.requests.length, 3)
})

t.test('a store that cannot be read lets the request go on', async (t) => {
  const store = mkdtempSync(join(tmpdir(), 'colorproxy-acme-'))
  writeFileSync(join(store, 'challenges'), 'a file where a folder should be')
  const upstream = await recordingUpstream(t, (_req, res) => res.end('backend\n'))
  const proxy = await acmeProxy(t, upstream.url, store)
  const res = await fetch(`${proxy.url}/.well-known/acme-challenge/${TOKEN}`)
  t.equal(await res.text(), 'backend\n')
})
