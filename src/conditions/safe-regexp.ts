/**
 * Regular expressions of conditions run on RE2 (re2js, pure JavaScript): matching takes time linear
 * in the input, so no pattern and no data can make a condition backtrack for ever — JavaScript's own
 * engine would, e.g. `/^([A-Z0-9]+-?)+$/` on 32 letters and a `!`. RE2 has no backreferences and no
 * lookaround; a pattern using them is refused when the step loads (`unsupportedRegExpConstruct`).
 * Deterministic and side-effect free: runs inside the Temporal workflow sandbox.
 */
import { RE2JS } from 're2js';

/** A compiled pattern: `test` answers whether the string contains a match (like RegExp#test). */
export interface SafeRegExp {
  test(value: string): boolean;
}

/** JavaScript flags and RE2's equivalents (`g` and `d` change nothing for a stateless test; `y` anchors, below). */
const FLAG_BITS: Record<string, number> = {
  i: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
  u: 0,
  g: 0,
  y: 0,
  d: 0,
};

/**
 * The first construct of the pattern that a linear-time engine cannot run, named for a person
 * (`a backreference (\1)`), or null. Scans outside character classes, where these constructs live.
 */
function findBacktrackingConstruct(source: string): string | null {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && /[1-9]/.test(next)) return `a backreference (\\${next})`;
      if (!inClass && next === 'k' && source[i + 2] === '<') return 'a named backreference (\\k<…>)';
      i++;
      continue;
    }
    if (inClass) {
      if (char === ']') inClass = false;
      continue;
    }
    if (char === '[') inClass = true;
    else if (char === '(' && source[i + 1] === '?') {
      const rest = source.slice(i + 2, i + 4);
      if (rest.startsWith('=')) return 'a lookahead ((?=…))';
      if (rest.startsWith('!')) return 'a negative lookahead ((?!…))';
      if (rest === '<=') return 'a lookbehind ((?<=…))';
      if (rest === '<!') return 'a negative lookbehind ((?<!…))';
    }
  }
  return null;
}

function flagBits(flags: string): number {
  let bits = 0;
  for (const flag of flags) {
    const bit = FLAG_BITS[flag];
    if (bit === undefined) throw new Error(`unsupported regular expression flag "${flag}"`);
    bits |= bit;
  }
  return bits;
}

function compileRe2(source: string, flags: string): RE2JS {
  const translated = RE2JS.translateRegExp(source);
  // Sticky (`y`), tested from `lastIndex` 0, matches only at the start of the text.
  return RE2JS.compile(flags.includes('y') ? `\\A(?:${translated})` : translated, flagBits(flags));
}

/**
 * Why a pattern cannot run in a condition, for the step's problem list (null when it can):
 * `/(a)\1/ uses a backreference (\1), which conditions do not support: …`.
 */
export function unsupportedRegExpConstruct(source: string, flags: string): string | null {
  const shown = `/${source}/${flags}`;
  const construct = findBacktrackingConstruct(source);
  if (construct !== null) {
    return `${shown} uses ${construct}, which conditions do not support: their regular expressions run in linear time (RE2), without backreferences or lookaround`;
  }
  try {
    compileRe2(source, flags);
    return null;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `${shown} cannot run in linear time (RE2): ${reason}`;
  }
}

/** Compiles a pattern that `unsupportedRegExpConstruct` accepted; throws (naming it) otherwise. */
export function compileSafeRegExp(source: string, flags: string): SafeRegExp {
  const problem = unsupportedRegExpConstruct(source, flags);
  if (problem !== null) throw new Error(`whenflow: ${problem}`);
  const re = compileRe2(source, flags);
  return { test: (value) => re.test(value) };
}
