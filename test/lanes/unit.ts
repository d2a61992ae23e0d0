// `npm run test:unit`: every file in test/unit/ in this one process, so TypeScript is loaded once, not once
// per file (about 2 s each). `npm test` runs the same files one process each, with coverage.
import { readdirSync } from 'node:fs'

const folder = new URL('../unit/', import.meta.url)
for (const name of readdirSync(folder)
  .filter((entry) => entry.endsWith('.ts'))
  .sort()) {
  await import(new URL(name.replace(/\.ts$/, '.js'), folder).href)
}
