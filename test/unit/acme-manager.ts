// The certificate manager's decisions, on a real folder store and a clock pinned here: what it orders, what
// it loads, when it renews, how it waits after a failure, and that another owner's lock is respected. The
// issuer here signs with a test CA; the real CA is test/e2e/acme.ts's Pebble.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FolderStore } from '../../src/acme/folder-store.js'
import { CertificateManager } from '../../src/acme/manager.js'
import { type AcmeStore, KEYS } from '../../src/acme/store.js'
import { type Certificate, readCertificate } from '../../src/config/certificates.js'
import type { AcmeConfig } from '../../src/config/load.js'
import { captureLogger } from '../helpers/logs.js'
import { issue, testCa } from '../helpers/tls.js'

const ca = testCa()
const DAY = 86_400_000

const config = (names: string[]): AcmeConfig => ({
  names,
  email: 'ops@example.com',
  storePrefix: 'colorproxy:acme:',
  directory: 'https://ca.invalid/dir',
  ca: undefined,
  challenge: 'http-01',
  store: { kind: 'folder', path: '/unused' },
  // A test certificate lives a day: renewed in its last hour.
  renewBeforeMs: 3_600_000,
  eab: undefined,
})

function setup(
  names: string[],
  root = mkdtempSync(join(tmpdir(), 'colorproxy-manager-')),
  wrap = (store: AcmeStore) => store,
) {
  const clock = { now: Date.now() }
  const orders: string[] = []
  const failing = new Set<string>()
  const store = wrap(new FolderStore(root, () => clock.now))
  const served: Certificate[][] = []
  const { logger, lines } = captureLogger('info')
  const manager = new CertificateManager(config(names), {
    store,
    issuer: {
      async order(name) {
        orders.push(name)
        if (failing.has(name)) throw new Error(`urn:ietf:params:acme:error:connection: ${name} refused`)
        const made = issue(ca, [name])
        return readCertificate(`acme:${name}`, made.cert, made.key)
      },
    },
    logger,
    owner: 'me',
    now: () => clock.now,
    everyMs: 60_000,
    serve: (certificates) => served.push(certificates),
  })
  return { manager, store, clock, orders, failing, served, lines, root }
}

t.test(
  'each name is ordered once, served, kept in the store, and loaded from it after a restart',
  async (t) => {
    const one = setup(['a.test', 'b.test'])
    await one.manager.pass()
    t.same(one.orders, ['a.test', 'b.test'])
    t.same(
      one.served.at(-1)?.map((certificate) => certificate.names),
      [['a.test'], ['b.test']],
    )
    await one.manager.pass()
    t.same(one.orders, ['a.test', 'b.test'], 'nothing ordered twice while valid')
    t.equal(one.served.length, 2, 'and nothing served again')
    const again = setup(['a.test', 'b.test'], one.root)
    await again.manager.pass()
    t.same(again.orders, [], 'a restart orders nothing')
    t.equal(again.served.at(-1)?.[0]?.cert, one.manager.certificates()[0]?.cert, 'the same certificate')
    t.match(again.lines, [{ msg: /^ACME: a.test: certificate loaded from the store/ }])
  },
)

t.test('a failed order is logged with its reason and waits, doubling; the other names go on', async (t) => {
  const { manager, clock, orders, failing, lines } = setup(['bad.test', 'a.test'])
  failing.add('bad.test')
  await manager.pass()
  t.same(orders, ['bad.test', 'a.test'])
  t.match(
    lines.find((line) => line.level === 40),
    {
      name: 'bad.test',
      msg: 'ACME: bad.test: the order failed: urn:ietf:params:acme:error:connection: bad.test refused; next try in 5m',
    },
  )
  t.same(
    manager.certificates().map((certificate) => certificate.names[0]),
    ['a.test'],
    'a.test is served',
  )
  clock.now += 4 * 60_000
  await manager.pass()
  t.same(orders, ['bad.test', 'a.test'], 'not before its wait is over')
  clock.now += 2 * 60_000
  await manager.pass()
  t.equal(orders.length, 3, 'then again')
  t.match(lines.filter((line) => line.level === 40).at(-1), { failures: 2, msg: /next try in 10m$/ })
  failing.delete('bad.test')
  clock.now += 11 * 60_000
  await manager.pass()
  t.same(
    manager
      .certificates()
      .map((certificate) => certificate.names[0])
      .sort(),
    ['a.test', 'bad.test'],
  )
})

t.test('a certificate with less than ACME_RENEW_BEFORE left is renewed', async (t) => {
  const { manager, clock, orders, lines } = setup(['a.test'])
  await manager.pass()
  clock.now += 2 * DAY
  await manager.pass()
  t.same(orders, ['a.test', 'a.test'], 'two days on, it is due')
  t.match(lines, [
    { msg: /ordering a certificate/ },
    {},
    { msg: /renewing a certificate/ },
    { msg: /certificate renewed/ },
  ])
})

t.test(
  "a name another owner's lock holds is not ordered here; its certificate is served once stored",
  async (t) => {
    const { manager, store, orders } = setup(['a.test'])
    t.ok(await store.lock(KEYS.lock('a.test'), 'another replica', 600_000))
    await manager.pass()
    t.same(orders, [], 'the other replica orders')
    const made = issue(ca, ['a.test'])
    await store.write(KEYS.certificate('a.test'), `${made.key}${made.cert}`)
    await manager.pass()
    t.same(
      manager.certificates().map((certificate) => certificate.names[0]),
      ['a.test'],
    )
  },
)

t.test('a stored certificate that does not read is ordered again; a store that fails is said', async (t) => {
  const { manager, store, orders, lines, root } = setup(['a.test'])
  await store.write(KEYS.certificate('a.test'), 'not a certificate')
  await manager.pass()
  t.same(orders, ['a.test'])
  t.match(lines[0], { msg: /^ACME: a.test: the stored certificate does not read/ })
  const broken = setup(['a.test'], join(root, 'certificates', 'a.test.pem'))
  await broken.manager.pass()
  await broken.manager.pass()
  t.match(broken.lines, [{ level: 40, msg: 'ACME: a.test: the store failed' }], 'once, however many looks')
  t.equal(broken.lines.length, 1)
})

t.test(
  'a certificate another replica stored while this one waited for the lock is not ordered again',
  async (t) => {
    const first = setup(['a.test'])
    // The second one reads "none", then the first orders and lets go, then the second takes the lock.
    const second = setup(['a.test'], first.root, (store) =>
      Object.assign(Object.create(store) as AcmeStore, {
        lock: async (key: string, owner: string, leaseMs: number) => {
          await first.manager.pass()
          return store.lock(key, owner, leaseMs)
        },
      }),
    )
    await second.manager.pass()
    t.same(first.orders, ['a.test'])
    t.same(second.orders, [], 'one order between them')
    t.equal(
      second.manager.certificates()[0]?.cert,
      first.manager.certificates()[0]?.cert,
      'the same one served',
    )
  },
)

t.test('a store that lost a served certificate gets it back, and nothing is ordered', async (t) => {
  const { manager, store, orders, lines } = setup(['a.test'])
  await manager.pass()
  await store.remove(KEYS.certificate('a.test'))
  await manager.pass()
  t.same(orders, ['a.test'], 'no second order')
  t.equal(
    await store.read(KEYS.certificate('a.test')),
    `${manager.certificates()[0]?.key}${manager.certificates()[0]?.cert}`,
  )
  t.match(lines.at(-1), { msg: 'ACME: a.test: the store had lost the certificate; it has it again' })
})

t.test('start() looks now and on its interval; close() stops it', async (t) => {
  const { manager, orders, clock } = setup(['a.test'])
  await manager.start()
  t.same(orders, ['a.test'])
  manager.close()
  clock.now += 2 * DAY
  await manager.pass()
  t.same(orders, ['a.test'], 'closed: nothing more, even when due')
})
