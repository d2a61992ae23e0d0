// The image smoke test: each Dockerfile replayed without Docker (test/helpers/dockerfile.ts), its
// entrypoint started with its own ENV, its HEALTHCHECK run. Broken Dockerfiles must fail here.
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { type Image, inImage, replayDockerfile } from '../helpers/dockerfile.js'
import { get } from '../helpers/clients.js'
import { recordingUpstream, type Teardown } from '../helpers/upstreams.js'
import { cleanEnv } from '../helpers/programs.js'
import { root } from '../helpers/paths.js'

// Outside the repository, as an image's filesystem is: nothing above it (no package.json) may leak in.
const work = mkdtempSync(join(tmpdir(), 'colorproxy-image-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const PROXY_DOCKERFILE = readFileSync(join(root, 'Dockerfile'), 'utf8')
const MYAPP_DOCKERFILE = readFileSync(join(root, 'myapp.Dockerfile'), 'utf8')

/** Runs a command as the image would: exec form, in WORKDIR, with the image's ENV over `env`. */
function run(image: Image, command: string[], env: Record<string, string>) {
  const [program = '', ...args] = command
  return spawn(program === 'node' ? process.execPath : program, args, {
    cwd: join(image.root, image.workdir),
    env: { ...cleanEnv(env), ...image.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Starts the entrypoint; resolves the first JSON line that says it listens, or rejects with its stderr. */
async function startImage(t: Teardown, image: Image, env: Record<string, string>) {
  const child = run(image, image.entrypoint ?? [], env)
  t.teardown(() => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  let stdout = ''
  return new Promise<{ child: typeof child; listening: Record<string, unknown> }>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const line = stdout
        .split('\n')
        .filter((text) => text.startsWith('{'))
        .map((text) => JSON.parse(text))
        .find((entry) => entry.msg === 'listening')
      if (line) resolve({ child, listening: line })
    })
    child.once('exit', (code) => reject(new Error(`the entrypoint exited ${code}: ${stderr}`)))
  })
}

/** The image's HEALTHCHECK, run as Docker would, with the container's environment. */
async function healthcheck(image: Image, env: Record<string, string>): Promise<number | null> {
  const child = run(image, image.healthcheck?.command ?? ['false'], env)
  const [code] = await once(child, 'exit')
  return code
}

function sizeMb(path: string): number {
  return Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]) / 1024
}

t.test('Dockerfile: the proxy image serves and passes its health check', async (t) => {
  const image = replayDockerfile(PROXY_DOCKERFILE, root, work)
  t.ok(image.stages.length >= 2, 'multi-stage')
  t.ok(
    image.stages.every((stage) => /^node:26[.-]/.test(stage.from)),
    'a Node 26 (Active LTS) base in every stage',
  )
  t.ok(image.user && !/^(root|0)(:|$)/.test(image.user), `runs as a non-root user (${image.user})`)
  t.ok(image.execForm, 'exec-form entrypoint, so SIGTERM reaches node')
  t.same(image.expose.sort(), ['8080', '8081', '8443'])
  t.equal(image.stopSignal, 'SIGTERM')
  t.match(image.healthcheck?.flags, { interval: /^\d+s$/, timeout: /^\d+s$/, 'start-period': /^\d+s$/ })
  t.equal(image.healthcheck?.command[0], 'node', 'the health check uses node, not curl')
  t.notOk(existsSync(inImage(image, 'node_modules/typescript')), 'no dev dependencies in the final stage')
  t.ok(existsSync(inImage(image, 'node_modules/http-proxy-3')), 'production dependencies are there')
  // What the image prunes must leave what loads later: ACME's client on its first order, a Redis store's
  // client, a canary's histograms, and LOG_FORMAT=pretty's formatter.
  const loads = run(
    image,
    [
      'node',
      '--input-type=module',
      '-e',
      "await import('acme-client'); await import('ioredis'); await import('hdr-histogram-js'); await import('pino-pretty')",
    ],
    {},
  )
  t.equal(
    (await once(loads, 'exit'))[0],
    0,
    'acme-client, ioredis, hdr-histogram-js and pino-pretty load from the pruned node_modules',
  )
  const appMb = sizeMb(image.root)
  t.ok(appMb < 20, `the app adds ${appMb.toFixed(1)} MB to the base image (budget: 20 MB)`)

  const up = await recordingUpstream(t)
  const { child, listening } = await startImage(t, image, { BLUE: up.url, PORT: '0', ADMIN_PORT: '0' })
  const env = { BLUE: up.url, PORT: '0', ADMIN_PORT: String(listening.admin_port) }
  t.equal((await get(`http://127.0.0.1:${listening.port}/`)).body, 'ok', 'it proxies')
  t.equal(up.requests[0]?.headers.color, 'blue')
  t.equal(await healthcheck(image, env), 0, 'HEALTHCHECK passes while it runs')
  child.kill(image.stopSignal as NodeJS.Signals)
  t.equal((await once(child, 'exit'))[0], 0, 'STOPSIGNAL stops it cleanly')
  t.not(await healthcheck(image, env), 0, 'HEALTHCHECK fails once it is gone')
})

t.test('myapp.Dockerfile: the demo image answers and passes its health check', async (t) => {
  const image = replayDockerfile(MYAPP_DOCKERFILE, root, work)
  t.ok(image.stages.length >= 2, 'multi-stage')
  t.ok(image.user && !/^(root|0)(:|$)/.test(image.user), `runs as a non-root user (${image.user})`)
  t.ok(image.execForm)
  t.same(image.expose, ['8080'])
  t.equal(image.stopSignal, 'SIGTERM')
  t.equal(image.healthcheck?.command[0], 'node')
  t.notOk(existsSync(inImage(image, 'node_modules/typescript')))
  // The image's ENV says PORT=8080; the test overrides it only for the run, never for the health check's logic.
  const { child, listening } = await startImage(
    t,
    { ...image, env: { ...image.env, PORT: '0' } },
    { HOSTNAME: 'e99a62b52d1d' },
  )
  t.equal(
    (await get(`http://127.0.0.1:${listening.port}/`, { headers: { Color: 'blue' } })).body,
    'blue e99a62b52d1d\n',
  )
  t.equal(await healthcheck({ ...image, env: { ...image.env, PORT: String(listening.port) } }, {}), 0)
  child.kill('SIGTERM')
  t.equal((await once(child, 'exit'))[0], 0)
})

t.test('the smoke test fails when a Dockerfile is broken', async (t) => {
  const broken: [string, string, string, RegExp][] = [
    [
      'a COPY of a file that is not in the context',
      'COPY package.json ./\nCOPY --from=deps',
      'COPY package.jsn ./\nCOPY --from=deps',
      /package.jsn does not exist in the build context/,
    ],
    [
      'a COPY of a file the build needs is dropped',
      'COPY tsconfig.json tsconfig.build.json ./',
      'COPY tsconfig.build.json ./',
      /npm run build failed/,
    ],
    [
      'the compiled code is not copied into the final stage',
      'COPY --from=build /app/dist/src ./dist/src\n',
      '',
      /the entrypoint exited 1: .*Cannot find module/s,
    ],
    [
      'the entrypoint path is wrong',
      '"dist/src/main.js"]',
      '"dist/main.js"]',
      /the entrypoint exited 1: .*Cannot find module/s,
    ],
  ]
  const up = await recordingUpstream(t)
  for (const [what, from, to, expected] of broken) {
    t.ok(PROXY_DOCKERFILE.includes(from), `the mutation applies: ${what}`)
    const attempt = async () => {
      const image = replayDockerfile(PROXY_DOCKERFILE.replace(from, to), root, work)
      await startImage(t, image, { BLUE: up.url, PORT: '0', ADMIN_PORT: '0' })
    }
    await t.rejects(attempt(), expected, what)
  }
})
