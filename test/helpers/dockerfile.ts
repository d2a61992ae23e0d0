// Replays a Dockerfile without Docker: each stage becomes a directory standing for its filesystem, COPY
// copies from the build context (honouring .dockerignore) or from an earlier stage, RUN runs with `sh -c`
// in the stage's WORKDIR. The base image is stood in for by this machine's node and npm. What the final
// stage declares (ENV, USER, EXPOSE, HEALTHCHECK, ENTRYPOINT, ...) is returned so a test can start it.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, posix, relative } from 'node:path'

export interface Instruction {
  keyword: string
  args: string
  line: number
}

export interface Stage {
  from: string
  name: string | undefined
  instructions: Instruction[]
}

/** Instructions by stage; continuation lines joined, comments dropped. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const start = i
    let line = lines[i] ?? ''
    while (line.trimEnd().endsWith('\\') && i + 1 < lines.length)
      line = `${line.trimEnd().slice(0, -1)} ${lines[++i]}`
    line = line.trim()
    if (!line || line.startsWith('#')) continue
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? []
    const instruction = { keyword: keyword.toUpperCase(), args: args.trim(), line: start + 1 }
    if (instruction.keyword === 'FROM') {
      const [from = '', as, name] = instruction.args.split(/\s+/)
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] })
    } else {
      const stage = stages.at(-1)
      if (!stage) throw new Error(`line ${start + 1}: ${keyword} before FROM`)
      stage.instructions.push(instruction)
    }
  }
  return stages
}

export interface Image {
  /** The final stage's filesystem. */
  root: string
  workdir: string
  env: Record<string, string>
  user: string | undefined
  expose: string[]
  stopSignal: string | undefined
  healthcheck: { flags: Record<string, string>; command: string[] } | undefined
  entrypoint: string[] | undefined
  /** True when ENTRYPOINT is the exec (JSON) form. */
  execForm: boolean
  stages: Stage[]
}

/** Stage directories by the text that built them (and what they copied), as Docker's layer cache. */
const cache = new Map<string, string>()

export function replayDockerfile(dockerfile: string, context: string, work: string): Image {
  const stages = parseDockerfile(dockerfile)
  const ignore = dockerignore(context)
  const built = new Map<string, { root: string; workdir: string }>()
  let image: Image | undefined
  stages.forEach((stage, index) => {
    const key = createHash('sha256')
    key.update(stage.from)
    const state = {
      workdir: '/',
      env: {} as Record<string, string>,
      user: undefined as string | undefined,
      expose: [] as string[],
      stopSignal: undefined as string | undefined,
      healthcheck: undefined as Image['healthcheck'],
      entrypoint: undefined as string[] | undefined,
      execForm: false,
    }
    // First pass: the cache key (instructions, plus the content of what they copy from the context).
    for (const { keyword, args } of stage.instructions) {
      key.update(`${keyword} ${args}\n`)
      if (keyword === 'COPY' && !args.includes('--from=')) {
        for (const source of copyArgs(args).sources)
          key.update(hashPath(join(context, source), ignore, context))
      }
      if (keyword === 'COPY' && args.includes('--from=')) {
        const from = /--from=(\S+)/.exec(args)?.[1] ?? ''
        key.update(built.get(from)?.root ?? from)
      }
    }
    const digest = key.digest('hex').slice(0, 16)
    const cached = cache.get(digest)
    const root = cached ?? join(work, `stage-${index}-${digest}`)
    if (!cached) mkdirSync(root, { recursive: true })
    for (const { keyword, args, line } of stage.instructions) {
      const at = `Dockerfile line ${line}: ${keyword} ${args}`
      switch (keyword) {
        case 'WORKDIR':
          state.workdir = posix.resolve(state.workdir, args)
          mkdirSync(join(root, state.workdir), { recursive: true })
          break
        case 'ENV':
          Object.assign(state.env, parseEnv(args))
          break
        case 'COPY':
          if (!cached) copy(args, { root, workdir: state.workdir, context, ignore, built, at })
          break
        case 'RUN':
          if (!cached) {
            try {
              execFileSync('sh', ['-c', args], {
                cwd: join(root, state.workdir),
                env: { ...process.env, ...state.env },
                stdio: 'pipe',
              })
            } catch (error) {
              const { stderr, stdout } = error as { stderr?: Buffer; stdout?: Buffer }
              throw new Error(`${at} failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error })
            }
          }
          break
        case 'USER':
          state.user = args
          break
        case 'EXPOSE':
          state.expose.push(...args.split(/\s+/))
          break
        case 'STOPSIGNAL':
          state.stopSignal = args
          break
        case 'HEALTHCHECK': {
          const flags: Record<string, string> = {}
          const rest = args.replace(/--([a-z-]+)=(\S+)\s*/g, (_all, name: string, value: string) => {
            flags[name] = value
            return ''
          })
          if (!rest.startsWith('CMD ')) throw new Error(`${at}: expected CMD`)
          state.healthcheck = { flags, command: JSON.parse(rest.slice(4)) }
          break
        }
        case 'ENTRYPOINT':
          state.execForm = args.startsWith('[')
          state.entrypoint = state.execForm ? JSON.parse(args) : ['sh', '-c', args]
          break
        default:
          // LABEL, ARG, CMD, ... do not change what this replay checks.
          break
      }
    }
    cache.set(digest, root)
    if (stage.name) built.set(stage.name, { root, workdir: state.workdir })
    built.set(String(index), { root, workdir: state.workdir })
    image = { root, stages, ...state }
  })
  if (!image) throw new Error('no FROM in the Dockerfile')
  return image
}

/** The path a program inside the image would see for an absolute path, mapped into the stage directory. */
export function inImage(image: Image, path: string): string {
  return path.startsWith('/') ? join(image.root, path) : join(image.root, image.workdir, path)
}

function copyArgs(args: string): { flags: string[]; sources: string[]; destination: string } {
  const words = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/)
  const flags = words.filter((word) => word.startsWith('--'))
  const paths = words.filter((word) => !word.startsWith('--'))
  const destination = paths.pop()
  if (destination === undefined || paths.length === 0)
    throw new Error(`COPY needs a source and a destination`)
  return { flags, sources: paths, destination }
}

function copy(
  args: string,
  {
    root,
    workdir,
    context,
    ignore,
    built,
    at,
  }: {
    root: string
    workdir: string
    context: string
    ignore: (path: string) => boolean
    built: Map<string, { root: string; workdir: string }>
    at: string
  },
): void {
  const { flags, sources, destination } = copyArgs(args)
  const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length)
  const sourceRoot = from === undefined ? context : built.get(from)?.root
  if (sourceRoot === undefined) throw new Error(`${at}: no stage named ${from}`)
  const target = join(root, posix.resolve(workdir, destination))
  for (const source of sources) {
    const path = from === undefined ? join(context, source) : join(sourceRoot, posix.resolve('/', source))
    if (!existsSync(path) || (from === undefined && ignore(relative(context, path)))) {
      throw new Error(`${at}: ${source} does not exist in the ${from ? `${from} stage` : 'build context'}`)
    }
    const isDirectory = statSync(path).isDirectory()
    // A file copied into a directory (`COPY a b ./`) keeps its name.
    const into =
      !isDirectory && (destination.endsWith('/') || sources.length > 1)
        ? join(target, basename(path))
        : target
    mkdirSync(isDirectory ? into : dirname(into), { recursive: true })
    cpSync(path, into, {
      recursive: true,
      filter: (file) => from !== undefined || !ignore(relative(context, file)),
    })
  }
}

function parseEnv(args: string): Record<string, string> {
  const env: Record<string, string> = {}
  if (!args.includes('=')) {
    const [name = '', ...value] = args.split(/\s+/)
    env[name] = value.join(' ')
    return env
  }
  for (const pair of args.match(/(\S+?)=("[^"]*"|\S*)/g) ?? []) {
    const [name = '', value = ''] = pair.split(/=(.*)/s)
    env[name] = value.replace(/^"(.*)"$/, '$1')
  }
  return env
}

/** .dockerignore patterns: names, paths and `*` globs, each matching a path or anything under it. */
function dockerignore(context: string): (path: string) => boolean {
  const file = join(context, '.dockerignore')
  const patterns = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('#'))
    : []
  const regexes = patterns.map(
    (pattern) =>
      new RegExp(
        `^${pattern
          .replace(/^\/|\/$/g, '')
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '[^/]*')}(/.*)?$`,
      ),
  )
  return (path) => path !== '' && regexes.some((regex) => regex.test(path))
}

/** A digest of a file or directory tree, skipping what .dockerignore leaves out. */
function hashPath(path: string, ignore: (path: string) => boolean, context: string): string {
  if (!existsSync(path)) return 'missing'
  const hash = createHash('sha256')
  const walk = (current: string) => {
    if (ignore(relative(context, current))) return
    if (statSync(current).isDirectory()) {
      for (const entry of readdirSync(current).sort()) walk(join(current, entry))
    } else {
      hash.update(relative(context, current)).update(readFileSync(current))
    }
  }
  walk(path)
  return hash.digest('hex')
}
