// ACME_STORE as a folder: whole writes, reads of what is not there, and the ordering lock with its lease.
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FolderStore } from '../../src/acme/folder-store.js'
import { isToken, KEYS } from '../../src/acme/store.js'

const folder = () => mkdtempSync(join(tmpdir(), 'colorproxy-store-'))

t.test(
  'a write replaces the whole text, leaves no temporary file, and only its owner reads it',
  async (t) => {
    const root = folder()
    const store = new FolderStore(root)
    t.equal(await store.read(KEYS.certificate('a.test')), undefined, 'nothing yet')
    await store.write(KEYS.certificate('a.test'), 'first')
    await store.write(KEYS.certificate('a.test'), 'second')
    t.equal(await store.read(KEYS.certificate('a.test')), 'second')
    t.same(readdirSync(join(root, 'certificates')), ['a.test.pem'])
    t.equal(statSync(join(root, 'certificates', 'a.test.pem')).mode & 0o777, 0o600)
    await store.remove(KEYS.certificate('a.test'))
    t.equal(await store.read(KEYS.certificate('a.test')), undefined, 'removed')
    await store.remove(KEYS.certificate('a.test'))
    t.pass('removing what is gone is no error')
  },
)

t.test('a read that fails for another reason than a missing file is an error', async (t) => {
  const root = folder()
  writeFileSync(join(root, 'certificates'), 'a file where a folder should be')
  await t.rejects(new FolderStore(root).read(KEYS.certificate('a.test')), { code: 'ENOTDIR' })
})

t.test('one owner holds a lock at a time; a lease that ran out is free', async (t) => {
  let now = 1_000
  const root = folder()
  const one = new FolderStore(root, () => now)
  const other = new FolderStore(root, () => now)
  const key = KEYS.lock('a.test')
  t.ok(await one.lock(key, 'one', 60_000), 'taken')
  t.notOk(await other.lock(key, 'other', 60_000), 'held by one')
  t.ok(await one.lock(key, 'one', 60_000), 'renewed by its owner')
  await other.unlock(key, 'other')
  t.notOk(await other.lock(key, 'other', 60_000), 'not given up by someone else')
  now += 61_000
  t.ok(await other.lock(key, 'other', 60_000), 'the lease ran out: taken over')
  t.notOk(await one.lock(key, 'one', 60_000))
  await other.unlock(key, 'other')
  t.ok(await one.lock(key, 'one', 60_000), 'given up, then free')
})

t.test('a lock file cut short by a crash is free', async (t) => {
  const root = folder()
  const store = new FolderStore(root)
  await store.write(KEYS.lock('a.test'), '{"owner":"de')
  t.ok(await store.lock(KEYS.lock('a.test'), 'me', 60_000))
})

t.test('a lock that cannot be made (the folder is a file) is an error, not a refusal', async (t) => {
  const root = folder()
  writeFileSync(join(root, 'locks'), 'a file where a folder should be')
  await t.rejects(new FolderStore(root).lock(KEYS.lock('a.test'), 'me', 60_000))
})

t.test('only base64url tokens become keys', async (t) => {
  t.ok(isToken('LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0'))
  t.notOk(isToken('../../etc/passwd'))
  t.notOk(isToken('short'))
})
