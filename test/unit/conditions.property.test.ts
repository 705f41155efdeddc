import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { compileCondition, createMatcher, explainMismatch, type CompiledCondition } from '../../src/conditions';
import type { JsonObject, JsonValue } from '../../src/model/json';
import { rng, pick, type Rand } from '../support/random';

// -------------------------------------------------------------------------------------------------
// Reference interpreter: reads the raw JS pattern directly (no compilation), rule by rule.

const TYPES = [String, Number, Boolean, Array, Object] as const;
type Pattern = unknown;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** sift's MongoDB traversal at a leaf: the value itself plus every (nested) array element. */
function candidates(v: unknown): unknown[] {
  if (!Array.isArray(v)) return [v];
  return [...v.flatMap(candidates), v];
}

/** The few operators the reference knows (MongoDB meaning, as sift implements it). */
function refOperator(op: string, arg: unknown, v: unknown): boolean {
  switch (op) {
    case '$gt':
      return candidates(v).some((x) => typeof x === 'number' && x > (arg as number));
    case '$lte':
      return candidates(v).some((x) => typeof x === 'number' && x <= (arg as number));
    case '$in':
      return (arg as unknown[]).some((l) => (l === null && v === undefined) || candidates(v).some((x) => deepEqual(x, l)));
    case '$ne':
      return v !== undefined && !candidates(v).some((x) => deepEqual(x, arg));
    case '$exists':
      return (v !== undefined) === arg;
    default:
      throw new Error(`reference: unsupported ${op}`);
  }
}

function typeCheck(t: (typeof TYPES)[number], v: unknown): boolean {
  if (t === String) return typeof v === 'string';
  if (t === Number) return typeof v === 'number' && Number.isFinite(v);
  if (t === Boolean) return typeof v === 'boolean';
  if (t === Array) return Array.isArray(v);
  return isObj(v);
}

function refMatch(p: Pattern, v: unknown, taskRoot: boolean): boolean {
  if (p === null) return v === null || v === undefined;
  if (typeof p === 'string' || typeof p === 'number' || typeof p === 'boolean') return v === p;
  if ((TYPES as readonly unknown[]).includes(p)) return typeCheck(p as (typeof TYPES)[number], v);
  if (p instanceof RegExp) return typeof v === 'string' && new RegExp(p.source, p.flags).test(v);
  if (Array.isArray(p)) {
    if (!Array.isArray(v)) return false;
    // Only object patterns: a non-empty array whose every element matches each of them; else contains-all.
    const shapes =
      p.length > 0 &&
      p.every((q) => isObj(q) && [Object.prototype, null].includes(Object.getPrototypeOf(q)) && !Object.hasOwn(q as object, '$data'));
    if (shapes) return v.length > 0 && p.every((q) => v.every((e) => refMatch(q, e, false)));
    return p.every((q) => v.some((e) => refMatch(q, e, false)));
  }
  const obj = p as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 0) return taskRoot || isObj(v);
  return keys.every((k) => {
    const sub = obj[k];
    if (k === '$or') return (sub as Pattern[]).some((b) => refMatch(b, v, taskRoot));
    if (k === '$and') return (sub as Pattern[]).every((b) => refMatch(b, v, taskRoot));
    if (k === '$nor') return !(sub as Pattern[]).some((b) => refMatch(b, v, taskRoot));
    if (k.startsWith('$')) return refOperator(k, sub, v);
    // A field of a nested pattern needs an object to be a field of (SEMANTICS: the sub-pattern matches the sub-object).
    if (!isObj(v)) return false;
    return refMatch(sub, Object.hasOwn(v, k) ? v[k] : undefined, false);
  });
}

// -------------------------------------------------------------------------------------------------
// Random patterns

const KEYS = ['a', 'b', 'c', 'd'] as const;
const STRINGS = ['x', 'y', '', 'xy', 'Xa', 'é'] as const;
/** Each RegExp with strings known to match it (used to derive matching data). */
const REGEXPS: Array<[RegExp, string[]]> = [
  [/^x/, ['x', 'xy']],
  [/y$/i, ['y', 'xY']],
  [/x|y/, ['xy', 'ay']],
  [/^$/, ['']],
  [/^.$/su, ['\n', 'é']],
  [/a/g, ['Xa', 'ba']],
];

const key = fc.constantFrom(...KEYS);
const primitive = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(...STRINGS), fc.boolean());
const literalOrNull = fc.oneof(primitive, fc.constant(null));

const operatorObject = fc.oneof(
  fc.integer({ min: -3, max: 3 }).map((n) => ({ $gt: n })),
  fc.integer({ min: -3, max: 3 }).map((n) => ({ $lte: n })),
  fc.record({ $gt: fc.integer({ min: -3, max: 0 }), $lte: fc.integer({ min: 0, max: 3 }) }),
  fc.array(literalOrNull, { minLength: 1, maxLength: 3 }).map((list) => ({ $in: list })),
  fc.constant({ $ne: null }),
  fc.boolean().map((b) => ({ $exists: b })),
);

const leafPattern = fc.oneof(
  { weight: 4, arbitrary: primitive },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...TYPES) },
  { weight: 1, arbitrary: fc.constantFrom(...REGEXPS.map(([re]) => re)) },
  { weight: 2, arbitrary: operatorObject },
);

const { fieldObject } = fc.letrec<{ pattern: unknown; fieldObject: Record<string, unknown>; array: unknown[] }>((tie) => ({
  pattern: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 5, arbitrary: leafPattern },
    { weight: 2, arbitrary: tie('fieldObject') },
    { weight: 2, arbitrary: tie('array') },
  ),
  fieldObject: fc
    .tuple(
      fc.dictionary(key, tie('pattern'), { maxKeys: 3 }),
      // `$or` in about one field object out of five.
      fc.oneof(
        { weight: 4, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.array(tie('fieldObject'), { minLength: 1, maxLength: 2 }) },
      ),
    )
    .map(([fields, or]) => (or ? { ...fields, $or: or } : fields)),
  array: fc.array(fc.oneof(primitive, tie('pattern')), { maxLength: 3 }),
}));

/** A condition: a field object (the root of a condition is always an object). */
const condition = fieldObject;

// -------------------------------------------------------------------------------------------------
// Data derived from a pattern (so that matches happen often), with random mutations

function randomJson(r: Rand, depth = 2): JsonValue {
  const roll = r();
  if (depth <= 0 || roll < 0.55) return pick<JsonValue>(r, [0, 1, -2, 3, 'x', 'y', '', 'xy', 'Xa', true, false, null]);
  if (roll < 0.75) return Array.from({ length: Math.floor(r() * 3) }, () => randomJson(r, depth - 1));
  const out: JsonObject = {};
  for (const k of KEYS) if (r() < 0.4) out[k] = randomJson(r, depth - 1);
  return out;
}

/** A value easily confused with one matching `p` (wrong type, wrong container, string vs number). */
function nearMiss(p: Pattern, r: Rand): JsonValue | undefined {
  if (p === Object) return pick<JsonValue>(r, [[], [{}], null]);
  if (p === Array) return pick<JsonValue>(r, [{}, { 0: 1 }, 'x']);
  if (p === Number) return pick<JsonValue>(r, ['1', '0', false, [1]]);
  if (p === String) return pick<JsonValue>(r, [1, ['x'], null]);
  if (p === Boolean) return pick<JsonValue>(r, [0, 'true', [true]]);
  if (p === null) return pick<JsonValue>(r, [0, false, '', {}]);
  if (typeof p === 'number') return pick<JsonValue>(r, [String(p), [p], p + 1]);
  if (typeof p === 'string') return pick<JsonValue>(r, [[p], `${p}!`, p.length]);
  if (typeof p === 'boolean') return pick<JsonValue>(r, [!p, [p], Number(p)]);
  if (Array.isArray(p)) return pick<JsonValue>(r, [{}, p.length ? (derive(p[0], r, 0) ?? null) : 'x']);
  if (isObj(p) && !Object.keys(p).some((k) => k.startsWith('$'))) {
    return pick<JsonValue | undefined>(r, [[derive(p, r, 0) ?? null], 'x', undefined]);
  }
  return randomJson(r);
}

/** A value meant to match `p` (undefined = leave the key out); `noise` is the mutation rate. */
function derive(p: Pattern, r: Rand, noise: number): JsonValue | undefined {
  if (r() < noise) {
    const roll = r();
    return roll < 0.15 ? undefined : roll < 0.6 ? nearMiss(p, r) : randomJson(r);
  }
  if (p === null) return r() < 0.5 ? undefined : null;
  if (typeof p !== 'object' && typeof p !== 'function') return p as JsonValue;
  if (p === String) return pick(r, STRINGS);
  if (p === Number) return pick(r, [0, 1, -3]);
  if (p === Boolean) return r() < 0.5;
  if (p === Array) return r() < 0.5 ? [] : [randomJson(r, 1)];
  if (p === Object) return r() < 0.5 ? {} : { a: randomJson(r, 1) };
  if (p instanceof RegExp) return pick(r, REGEXPS.find(([re]) => re === p)?.[1] ?? ['x']);
  if (Array.isArray(p)) {
    const items = p.map((q) => derive(q, r, noise)).filter((v): v is JsonValue => v !== undefined);
    if (r() < 0.3) items.push(randomJson(r, 1));
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [items[i], items[j]] = [items[j] as JsonValue, items[i] as JsonValue];
    }
    return items;
  }
  const obj = p as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length > 0 && keys.every((k) => k.startsWith('$') && k !== '$or')) return deriveOperators(obj, r);
  const out: JsonObject = {};
  if (r() < 0.3) out[pick(r, KEYS)] = randomJson(r, 1);
  for (const k of keys) {
    if (k === '$or') {
      const branch = derive(pick(r, obj.$or as Pattern[]), r, noise);
      if (isObj(branch)) for (const [bk, bv] of Object.entries(branch)) if (!(bk in out)) out[bk] = bv;
      continue;
    }
    const v = derive(obj[k], r, noise);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function deriveOperators(ops: Record<string, unknown>, r: Rand): JsonValue | undefined {
  if ('$exists' in ops) return ops.$exists ? randomJson(r, 1) : undefined;
  if ('$in' in ops) return pick(r, ops.$in as JsonValue[]) ?? undefined;
  if ('$ne' in ops) return pick<JsonValue>(r, [0, 'x', false, [1]]);
  if ('$gt' in ops && '$lte' in ops) return ops.$lte as number;
  if ('$gt' in ops) return (ops.$gt as number) + 1;
  if ('$lte' in ops) return ops.$lte as number;
  return randomJson(r);
}

const sample = fc
  .record({ condition, seed: fc.integer(), noise: fc.constantFrom(0, 0, 0.03, 0.1, 0.3) })
  .map(({ condition, seed, noise }) => {
    const r = rng(seed);
    const data = r() < 0.1 ? randomJson(r) : derive(condition, r, noise);
    return { condition, data: (isObj(data) ? data : {}) as JsonObject };
  });

const show = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x instanceof RegExp ? String(x) : typeof x === 'function' ? (x as { name: string }).name : x === undefined ? '<undefined>' : x,
  );

// -------------------------------------------------------------------------------------------------

describe('compiled matcher vs reference interpreter', () => {
  it('agree on random patterns and derived data', () => {
    let matched = 0;
    let total = 0;
    fc.assert(
      fc.property(sample, ({ condition, data }) => {
        const expected = refMatch(condition, data, true);
        const actual = createMatcher(compileCondition(condition))(data);
        total++;
        if (expected) matched++;
        if (actual !== expected)
          throw new Error(`condition ${show(condition)} data ${show(data)}: reference ${expected}, compiled ${actual}`);
      }),
      { numRuns: 6000 },
    );
    // The data generator must exercise both outcomes.
    expect(matched / total).toBeGreaterThan(0.15);
    expect(matched / total).toBeLessThan(0.85);
  });

  it('the JSON round trip and explainMismatch agree with the matcher', () => {
    fc.assert(
      fc.property(sample, ({ condition, data }) => {
        const compiled = compileCondition(condition);
        const copy = JSON.parse(JSON.stringify(compiled)) as CompiledCondition;
        const result = createMatcher(compiled)(data);
        expect(createMatcher(copy)(data)).toBe(result);
        const mismatch = explainMismatch(copy, data);
        expect(mismatch === null).toBe(result);
        if (mismatch) expect(typeof mismatch.expected).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  it('constraints are canonical, and a superset of constraints only matches a subset of data', () => {
    fc.assert(
      fc.property(sample, condition, ({ condition: base, data }, extra) => {
        // `more` holds every field constraint of `base` plus those of `extra` (under fresh keys).
        const more: Record<string, unknown> = { ...base, e: extra };
        const a = compileCondition(base);
        const b = compileCondition(more);
        expect(a.constraints).toEqual([...new Set(a.constraints)].sort());
        expect(a.specificity).toBe(a.constraints.length);
        expect(a.constraints.every((c) => b.constraints.includes(c))).toBe(true);
        expect(b.specificity).toBeGreaterThanOrEqual(a.specificity);
        if (createMatcher(b)(data)) expect(createMatcher(a)(data)).toBe(true);
        // Key order does not change constraints.
        const reversed = Object.fromEntries(Object.entries(base).reverse());
        expect(compileCondition(reversed).constraints).toEqual(a.constraints);
      }),
      { numRuns: 1500 },
    );
  });
});
