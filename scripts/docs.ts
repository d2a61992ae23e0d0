#!/usr/bin/env node
// npm run docs: writes the README's configuration table from the spec table (src/config-spec.ts), between
// its two marker comments; `npm run docs` then lets Prettier align it. test/config-spec.ts fails when the
// README and the table disagree.
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { markdownTable } from '../src/config/spec.js'

export const START = '<!-- config-table: written by npm run docs from src/config-spec.ts -->'
export const END = '<!-- config-table end -->'

const readme = join(dirname(fileURLToPath(import.meta.url)), '../../README.md')
const text = readFileSync(readme, 'utf8')
const [before, rest] = text.split(START)
const after = rest?.split(END)[1]
if (before === undefined || after === undefined) throw new Error(`README.md needs ${START} and ${END}`)
writeFileSync(readme, `${before}${START}\n\n${markdownTable()}\n\n${END}${after}`)
