// Where the repository and its built programs are (dist/, built by `npm test` first).
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const PROXY = join(root, 'dist/src/main.js')
export const MYAPP = join(root, 'dist/myapp/main.js')
export const DEMO = join(root, 'dist/scripts/demo.js')
export const REHEARSE = join(root, 'dist/scripts/rehearse.js')
