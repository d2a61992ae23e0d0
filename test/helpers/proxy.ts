// An in-process colorproxy on free loopback ports, built from a real environment through loadConfig.
import { readFileSync } from 'node:fs'
import { type Config, loadConfig } from '../../src/config/load.js'
import { createService, type ServiceOptions } from '../../src/service.js'
import { captureLogger } from './logs.js'
import { type Teardown } from './upstreams.js'

// A stray .env in the working folder never reaches a test; files a test names (TLS_CERTS_DIR) are read.
const noFiles = {
  readFile(path: string): string {
    if (path === '.env') throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
    return readFileSync(path, 'utf8')
  },
}

// A worker thread does not get the tests' TypeScript loader: it checks passwords with the built module.
export const BUILT_PASSWORDS = new URL('../../dist/src/listen/passwords.js', import.meta.url)

export async function startColorProxy(
  t: Teardown,
  env: Record<string, string>,
  deps: Partial<ServiceOptions> = {},
  edit: (config: Config) => void = () => {},
) {
  const config = loadConfig(
    {
      PORT: '0',
      ADMIN_PORT: '0',
      HTTPS_PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_HOST: '127.0.0.1',
      SHUTDOWN_TIMEOUT: '2s',
      ...env,
    },
    noFiles,
  )
  edit(config)
  const { logger, lines, line } = captureLogger(config.log.level)
  const proxy = createService(config, { logger, passwordModule: BUILT_PASSWORDS, ...deps })
  const { port, adminPort, httpsPort } = await proxy.start()
  t.teardown(() => proxy.shutdown({ delayMs: 0 }))
  return {
    url: `http://127.0.0.1:${port}`,
    admin: `http://127.0.0.1:${adminPort}`,
    https: `https://127.0.0.1:${httpsPort}`,
    port,
    httpsPort,
    proxy,
    config,
    lines,
    line,
  }
}
