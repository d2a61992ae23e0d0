#!/usr/bin/env node
// npm run docs: writes docs/configuration.md's table from the spec table (src/config/spec.ts), between its
// two marker comments; `npm run docs` then lets Prettier align it. test/unit/config-spec.ts fails when the
// page and the table disagree.
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { markdownTable } from '../src/config/spec.js'

export const START = '<!-- config-table: written by npm run docs from src/config/spec.ts -->'
export const END = '<!-- config-table end -->'

const page = join(dirname(fileURLToPath(import.meta.url)), '../../docs/configuration.md')
const text = readFileSync(page, 'utf8')
const [before, rest] = text.split(START)
const after = rest?.split(END)[1]
if (before === undefined || after === undefined)
  throw new Error(`docs/configuration.md needs ${START} and ${END}`)
writeFileSync(page, `${before}${START}\n\n${markdownTable()}\n\n${END}${after}`)
