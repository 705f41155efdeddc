/**
 * Hiding secrets in text that leaves a step: error messages and stacks, logs, visuals, span
 * attributes and events, deferred connector calls and their results.
 *
 * The secrets are every string and number anywhere under the plaintext `data.$stash` (nested values
 * included) and every `config:` value listed under `secrets.config` in whenflow.yaml. Each is looked
 * for in three forms: as written (numbers in their decimal form), JSON-escaped (`JSON.stringify`
 * output) and URL-encoded (a secret in a query string).
 *
 * The rule for where an occurrence is replaced by `‹secret›`:
 * - a text of 4 characters or more: wherever it occurs, also inside longer words;
 * - a shorter text (1 to 3 characters): only where it stands as a whole token, i.e. the characters
 *   right before and after it are not letters, digits or `_`. Masking every `abc` inside every word
 *   would make messages unreadable while hiding little: a 3-character secret has almost no entropy
 *   and is found by guessing anyway. The limit: a short secret written inside a longer word stays
 *   visible, and an unrelated whole token equal to it (a 1-character secret `7` and "attempt 7") is
 *   masked too.
 * Booleans and null are not masked: `true` or `null` says nothing secret and is everywhere.
 */
import { isJsonObject, type JsonValue } from '../model/json';
import { isSealed } from '../model/sealed';

export const SECRET_MASK = '‹secret›';
/** Texts at least this long are masked wherever they occur; shorter ones only as a whole token. */
export const MIN_FREE_SECRET_CHARS = 4;

const WORD_CHAR = /[\p{L}\p{N}_]/u;

function isWordChar(char: string | undefined): boolean {
  return char !== undefined && WORD_CHAR.test(char);
}

/** The code point just before `at` (a surrogate pair counts as one). */
function charBefore(text: string, at: number): string | undefined {
  if (at <= 0) return undefined;
  const low = text.charCodeAt(at - 1);
  const start = low >= 0xdc00 && low <= 0xdfff && at >= 2 ? at - 2 : at - 1;
  return String.fromCodePoint(text.codePointAt(start) ?? 0);
}

function charAt(text: string, at: number): string | undefined {
  if (at >= text.length) return undefined;
  return String.fromCodePoint(text.codePointAt(at) ?? 0);
}

/** The forms of one secret text to look for: as written, JSON-escaped, URL-encoded. */
function formsOf(text: string): string[] {
  if (text.length === 0) return [];
  const forms = new Set([text, JSON.stringify(text).slice(1, -1)]);
  try {
    forms.add(encodeURIComponent(text));
  } catch {
    // a lone surrogate cannot be URL-encoded; the other forms remain
  }
  return [...forms];
}

/** Every string (not sealed) and finite number inside `value`, numbers in their decimal form; cycles are walked once. */
export function secretLeaves(value: unknown, into: Set<string> = new Set(), seen: Set<object> = new Set()): Set<string> {
  if (typeof value === 'string') {
    if (value.length > 0 && !isSealed(value)) into.add(value);
  } else if (typeof value === 'number') {
    if (Number.isFinite(value)) into.add(String(value));
  } else if (typeof value === 'object' && value !== null && !seen.has(value)) {
    seen.add(value);
    for (const item of Array.isArray(value) ? value : Object.values(value)) secretLeaves(item, into, seen);
  }
  return into;
}

/** Longest first, so that the widest match is the one written out; no duplicates. */
function ordered(texts: Iterable<string>): string[] {
  return [...new Set(texts)].filter((t) => t.length > 0).sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Replaces every occurrence of every secret text with `‹secret›` (short ones only as whole tokens).
 * Occurrences are found in the original text (never inside a mask already written), and overlapping
 * ones become one mask, so no part of a longer secret survives because a shorter one matched first.
 */
export function maskText(text: string, secrets: readonly string[]): string {
  const ranges: [number, number][] = [];
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    const short = secret.length < MIN_FREE_SECRET_CHARS;
    for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) {
      const end = at + secret.length;
      if (short && (isWordChar(charBefore(text, at)) || isWordChar(charAt(text, end)))) continue;
      ranges.push([at, end]);
    }
  }
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let cursor = 0;
  let current: [number, number] | undefined;
  const flush = () => {
    if (!current) return;
    out += text.slice(cursor, current[0]) + SECRET_MASK;
    cursor = current[1];
  };
  for (const range of ranges) {
    if (current && range[0] < current[1]) {
      current[1] = Math.max(current[1], range[1]);
      continue;
    }
    flush();
    current = [range[0], range[1]];
  }
  flush();
  return out + text.slice(cursor);
}

/** The secrets of one step execution (or deferred call), and the one way to hide them in what leaves. */
export class SecretMask {
  static readonly NONE = new SecretMask([]);

  /** The plain secret texts (not their escaped forms), longest first. */
  readonly secrets: readonly string[];
  /** Every form looked for, longest first. */
  private readonly forms: readonly string[];

  constructor(secrets: Iterable<string>) {
    this.secrets = ordered(secrets);
    this.forms = ordered(this.secrets.flatMap(formsOf));
  }

  /** A mask for every string and number inside each of `values` (e.g. a plaintext `$stash`). */
  static of(...values: unknown[]): SecretMask {
    const leaves = new Set<string>();
    for (const value of values) secretLeaves(value, leaves);
    return new SecretMask(leaves);
  }

  get isEmpty(): boolean {
    return this.secrets.length === 0;
  }

  with(other: SecretMask): SecretMask {
    if (other.isEmpty) return this;
    if (this.isEmpty) return other;
    return new SecretMask([...this.secrets, ...other.secrets]);
  }

  text(text: string): string {
    return this.isEmpty ? text : maskText(text, this.forms);
  }

  /** True when `text` holds a secret (by the same rule as `text()`). */
  finds(text: string): boolean {
    return !this.isEmpty && maskText(text, this.forms) !== text;
  }

  /** A copy of a JSON value with every string masked; a number equal to a secret becomes the mask. */
  json(value: JsonValue): JsonValue {
    if (this.isEmpty) return value;
    if (typeof value === 'string') return this.text(value);
    if (typeof value === 'number') return this.finds(String(value)) ? SECRET_MASK : value;
    if (Array.isArray(value)) return value.map((item) => this.json(item));
    if (isJsonObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.json(v)]));
    return value;
  }

  /**
   * The error with its message and stack masked, its causes too. Masked in place, so its class (which
   * decides whether it is retried) is kept; a thrown non-error becomes an Error with the masked text.
   */
  error(thrown: unknown): Error {
    const error = thrown instanceof Error ? thrown : new Error(this.text(String(thrown)));
    if (this.isEmpty) return error;
    const seen = new Set<unknown>();
    for (let current: unknown = error; current instanceof Error && !seen.has(current); current = current.cause) {
      seen.add(current);
      try {
        current.message = this.text(current.message);
        if (typeof current.stack === 'string') current.stack = this.text(current.stack);
        if (current instanceof AggregateError) for (const inner of current.errors) this.error(inner);
      } catch {
        // a frozen error cannot be masked in place: replace it
        if (current === error)
          return this.error(Object.assign(new Error(this.text(error.message)), { name: error.name, stack: this.text(error.stack ?? '') }));
      }
    }
    return error;
  }
}
