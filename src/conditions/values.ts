/**
 * Values inside a compiled condition. The compiled form is plain JSON, so the two non-JSON things a
 * condition may hold are encoded with a tag key (the compiler guarantees that literal objects carry
 * no `$` keys, so the tags are unambiguous):
 *   RegExp             → { "$re": { "source": "^a", "flags": "i" } }
 *   `$data` reference  → { "$data": "companies.length" }
 * A value template decodes an encoded value once and fills in its references per evaluation.
 */
import { parseDotPath, type JsonObject, type JsonValue } from '../model/json';
import { resolveReference, type Path } from './paths';
import { compileSafeRegExp } from './safe-regexp';
import { chargeWork } from './work-meter';

export const REGEXP_TAG = '$re';
export const DATA_TAG = '$data';

export interface EncodedRegExp {
  source: string;
  flags: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function encodeRegExp(re: RegExp): JsonObject {
  return { [REGEXP_TAG]: { source: re.source, flags: re.flags } };
}

export function asEncodedRegExp(value: unknown): EncodedRegExp | null {
  if (!isRecord(value)) return null;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== REGEXP_TAG) return null;
  const inner = value[REGEXP_TAG];
  if (!isRecord(inner) || typeof inner.source !== 'string' || typeof inner.flags !== 'string') return null;
  return { source: inner.source, flags: inner.flags };
}

export function asReference(value: unknown): string | null {
  if (!isRecord(value)) return null;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== DATA_TAG) return null;
  const path = value[DATA_TAG];
  return typeof path === 'string' ? path : null;
}

/**
 * A RegExp tested on the linear-time engine (safe-regexp.ts), statelessly (g/y flags change nothing).
 * sift calls a function operand as the tester, so this is also what a RegExp inside `$in`, `$eq`, …
 * becomes: JavaScript's backtracking engine never sees condition patterns.
 */
export function regExpTester(encoded: EncodedRegExp): (value: unknown) => boolean {
  const re = compileSafeRegExp(encoded.source, encoded.flags);
  return (value) => {
    if (typeof value !== 'string') return false;
    chargeWork(value.length >>> 4);
    return re.test(value);
  };
}

export function formatRegExp(encoded: EncodedRegExp): string {
  return `/${encoded.source}/${encoded.flags}`;
}

/**
 * An encoded value, decoded once. `refs` lists its `$data` references in a fixed order;
 * `instantiate(values)` builds the runtime value from their resolved values (same order).
 */
export interface ValueTemplate {
  readonly refs: readonly Path[];
  instantiate(values: readonly unknown[]): unknown;
  /** Resolves every reference against `root`; null when one of them is missing. */
  resolveRefs(root: unknown): unknown[] | null;
}

type Builder = (values: readonly unknown[]) => unknown;

export function compileTemplate(encoded: JsonValue): ValueTemplate {
  const refs: Path[] = [];
  const build = templateBuilder(encoded, refs);
  const isStatic = refs.length === 0;
  const fixed = isStatic ? build([]) : undefined;
  return {
    refs,
    instantiate: isStatic ? () => fixed : build,
    resolveRefs(root) {
      if (isStatic) return [];
      const values: unknown[] = new Array(refs.length);
      for (let i = 0; i < refs.length; i++) {
        const value = resolveReference(root, refs[i] as Path);
        if (value === undefined) return null;
        values[i] = value;
      }
      return values;
    },
  };
}

function templateBuilder(encoded: JsonValue, refs: Path[]): Builder {
  const reference = asReference(encoded);
  if (reference !== null) {
    const index = refs.length;
    refs.push(parseDotPath(reference) ?? [reference]);
    return (values) => values[index];
  }
  const re = asEncodedRegExp(encoded);
  if (re !== null) {
    const tester = regExpTester(re);
    return () => tester;
  }
  if (Array.isArray(encoded)) {
    const items = encoded.map((item) => templateBuilder(item, refs));
    return (values) => items.map((item) => item(values));
  }
  if (isRecord(encoded)) {
    const entries = Object.entries(encoded).map(([key, item]) => [key, templateBuilder(item, refs)] as const);
    return (values) => {
      const out: Record<string, unknown> = {};
      for (const [key, item] of entries) out[key] = item(values);
      return out;
    };
  }
  return () => encoded;
}

/** Readable form of an encoded value, e.g. `"new"`, `/^a/i`, `{ $data: "x.length" }`. */
export function formatValue(encoded: JsonValue): string {
  const reference = asReference(encoded);
  if (reference !== null) return `{ $data: ${JSON.stringify(reference)} }`;
  const re = asEncodedRegExp(encoded);
  if (re !== null) return formatRegExp(re);
  if (Array.isArray(encoded)) return `[${encoded.map(formatValue).join(', ')}]`;
  if (isRecord(encoded)) {
    const parts = Object.entries(encoded).map(([k, v]) => `${k}: ${formatValue(v)}`);
    return parts.length ? `{ ${parts.join(', ')} }` : '{}';
  }
  return JSON.stringify(encoded);
}
