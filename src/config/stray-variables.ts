// Variables that look like colorproxy's but that it does not read: a misspelt name (`GREEN_WIEGHT`) or a
// site's setting for a site not in SITES (`SHOP_HOSTS` without `shop`). Each is a warning at startup naming
// it, with the closest name colorproxy does read when one is near: set, it would otherwise be ignored
// without a word. The environment's other variables (PATH, HOME, …) are nobody's business here.
import { closest, distance } from 'fastest-levenshtein'
import { SITE_ONLY } from './spec.js'
import { colorVariable } from './validators.js'

export interface StrayContext {
  /** Every name colorproxy read (its `_FILE` twin counts as read too). */
  read: ReadonlySet<string>
  /** SITES, as listed. */
  sites: readonly string[]
  /** The unprefixed COLORS. */
  colors: readonly string[]
}

/** One warning per stray variable, in the environment's order. */
export function strayVariables(names: Iterable<string>, context: StrayContext): string[] {
  const known = [...context.read]
  const colors = context.colors.map(colorVariable)
  const endings = [...SITE_ONLY, ...colors, ...colors.map((color) => `${color}_WEIGHT`)]
  const warnings: string[] = []
  for (const name of names) {
    if (context.read.has(name) || context.read.has(name.replace(/_FILE$/, ''))) continue
    const site = unlistedSite(name, endings, context.sites)
    if (site !== undefined) {
      const listed =
        context.sites.length > 0 ? `SITES (${context.sites.join(', ')})` : 'SITES, which is not set'
      warnings.push(`${name} is ignored: the site ${site} is not in ${listed}`)
      continue
    }
    const near = nearest(name, known)
    if (near !== undefined)
      warnings.push(`${name} is not a colorproxy variable and is ignored: did you mean ${near}?`)
  }
  return warnings
}

/** `SHOP_HOSTS`, `SHOP_BLUE`, `SHOP_BLUE_WEIGHT` → `shop` when shop is not a site; else undefined. */
function unlistedSite(
  name: string,
  endings: readonly string[],
  sites: readonly string[],
): string | undefined {
  const ending = endings.find((end) => name.endsWith(`_${end}`) && name.length > end.length + 1)
  if (ending === undefined) return undefined
  const site = name.slice(0, -ending.length - 1).toLowerCase()
  return sites.includes(site) ? undefined : site.replace(/_/g, '-')
}

/** A read name one or two edits away (one for short names, none under 6 letters: COLOR, USER and HOST are the
 * environment's own); undefined when none is that near. */
function nearest(name: string, known: readonly string[]): string | undefined {
  if (name.length < 6 || known.length === 0) return undefined
  const best = closest(name, known)
  return distance(name, best) <= Math.min(2, Math.floor(name.length / 5)) ? best : undefined
}
