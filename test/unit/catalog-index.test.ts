import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileCondition, createMatcher } from '../../src/conditions';
import { buildCatalogIndex, extractRequirements, indexCandidates, meetsRequirement, type Requirement } from '../../src/cycle/catalog-index';
import { compileCatalog, selectSteps, selectStepsUnindexed } from '../../src/cycle/select';
import type { JsonObject, JsonValue } from '../../src/model/json';
import type { CatalogStep } from '../../src/model/task';
import { rng, pick, type Rand } from '../support/random';
import { catalogStep as step } from '../support/catalog-steps';

const requirementsOf = (condition: unknown) => extractRequirements(compileCondition(condition).query);

const show = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x instanceof RegExp ? String(x) : typeof x === 'function' ? (x as { name: string }).name : x === undefined ? '<undefined>' : x,
  );

// -------------------------------------------------------------------------------------------------
// Requirement extraction

describe('extractRequirements', () => {
  const value = (path: string[], v: string | number | boolean): Requirement => ({ kind: 'value', path, value: v });
  const object = (key: string): Requirement => ({ kind: 'object', key });
  const defined = (key: string): Requirement => ({ kind: 'defined', key });

  const INDEXED: Array<[string, unknown, Requirement[]]> = [
    ['a top-level literal', { a: 1 }, [value(['a'], 1), defined('a')]],
    ['a string literal', { status: 'new' }, [value(['status'], 'new'), defined('status')]],
    ['a boolean literal', { ok: false }, [value(['ok'], false), defined('ok')]],
    ['a nested literal (value + parent object)', { order: { status: 'new' } }, [value(['order', 'status'], 'new'), object('order')]],
    ['a deeply nested literal', { a: { b: { c: 'x' } } }, [value(['a', 'b', 'c'], 'x'), object('a')]],
    ['a type constructor', { a: String }, [defined('a')]],
    ['every type constructor', { a: Number, b: Boolean, c: Array, d: Object }, [defined('a'), defined('b'), defined('c'), defined('d')]],
    ['$type null (the value must be present and null)', { a: { $type: 'null' } }, [defined('a')]],
    ['a RegExp', { a: /^x/ }, [defined('a')]],
    ['an array of primitives (has)', { tags: ['vip'] }, [defined('tags')]],
    ['an array of patterns (some)', { items: [{ sku: String }] }, [defined('items')]],
    ['an empty array pattern (type array)', { items: [] }, [defined('items')]],
    ['$elemMatch', { items: { $elemMatch: { qty: { $gt: 1 } } } }, [defined('items')]],
    ['a $data reference (eq, no literal)', { a: { $data: 'b' } }, [defined('a')]],
    ['$gt / $lte', { a: { $gt: 1 }, b: { $lte: 'm' } }, [defined('a'), defined('b')]],
    ['$lt with a reference', { a: { $lt: { $data: 'b' } } }, [defined('a')]],
    ['$exists: true', { a: { $exists: true } }, [defined('a')]],
    ['$in of non-null primitives', { a: { $in: [1, 'x', true] } }, [defined('a')]],
    ['$eq with a primitive', { a: { $eq: 2 } }, [defined('a')]],
    ['$regex with $options', { a: { $regex: '^x', $options: 'i' } }, [defined('a')]],
    ['$size', { a: { $size: 0 } }, [defined('a')]],
    ['a nested null still needs the parent object', { approval: { approved: null } }, [object('approval')]],
    ['a nested $exists: false still needs the parent object', { a: { b: { $exists: false } } }, [object('a')]],
    ['an empty nested object is a type leaf', { a: {} }, [defined('a')]],
    ['$and is flattened into the top level', { $and: [{ a: 1 }, { b: null }] }, [value(['a'], 1), defined('a')]],
    ['leaves next to an $or still count', { a: 1, $or: [{ b: 1 }, { c: 1 }] }, [value(['a'], 1), defined('a')]],
  ];

  it.each(INDEXED)('%s', (_title, condition, expected) => {
    const actual = requirementsOf(condition);
    expect(sortRequirements(actual)).toEqual(sortRequirements(expected));
  });

  const NOT_INDEXED: Array<[string, unknown]> = [
    ['the empty condition', {}],
    ['null (null or missing)', { a: null }],
    ['$exists: false', { a: { $exists: false } }],
    ['$or', { $or: [{ a: 1 }, { b: 1 }] }],
    ['$nor', { $nor: [{ a: 1 }] }],
    ['$ne', { a: { $ne: 1 } }],
    ['$nin', { a: { $nin: [1] } }],
    ['$in holding null', { a: { $in: [1, null] } }],
    ['$in holding a RegExp', { a: { $in: [/x/] } }],
    ['$eq null', { a: { $eq: null } }],
    ['$eq with a RegExp', { a: { $eq: /x/ } }],
    ['$eq with a reference', { a: { $eq: { $data: 'b' } } }],
    ['$all (true on a missing value when empty)', { a: { $all: [] } }],
    ['$not', { a: { $not: { $gt: 1 } } }],
    ['only nullable and grouped constraints', { a: null, b: { $exists: false }, $or: [{ c: 1 }, { d: 1 }] }],
  ];

  it.each(NOT_INDEXED)('%s gives no requirement', (_title, condition) => {
    expect(requirementsOf(condition)).toEqual([]);
  });

  it('gives nothing for query shapes it does not recognise', () => {
    expect(extractRequirements({ a: 1 })).toEqual([]);
    expect(extractRequirements({ $and: [{ a: 1 }] as unknown as JsonValue[] })).toEqual([]);
    expect(extractRequirements({ $and: {} })).toEqual([]);
    expect(extractRequirements({ $and: [{ $wf: { path: ['a'], test: 'eq', arg: 1 }, $at: [] }] })).toEqual([]);
    expect(extractRequirements({ $and: [{ $wf: { path: [1], test: 'eq', arg: 1 } }] as unknown as JsonValue[] })).toEqual([]);
    expect(extractRequirements({ $and: [{ $wf: { path: ['a'], test: 'unknown', arg: 1 } }] })).toEqual([]);
    expect(extractRequirements({ $and: [{ $wf: { path: [], test: 'type', arg: 'object' } }] })).toEqual([]);
  });

  it('every extracted requirement is necessary: a hand-picked set of near misses', () => {
    const cases: Array<[unknown, JsonObject[]]> = [
      [{ a: 1 }, [{}, { a: '1' }, { a: [1] }, { a: null }, { a: 1 }, { a: -0 }]],
      [{ a: 0 }, [{ a: -0 }, { a: 0 }, { a: false }, { a: '' }]],
      [
        { order: { status: 'new' } },
        [{ order: [] }, { order: null }, { order: 'new' }, { order: { status: 'new' } }, { order: { status: ['new'] } }],
      ],
      [{ approval: { approved: null } }, [{}, { approval: null }, { approval: [] }, { approval: {} }]],
      [{ a: String }, [{}, { a: null }, { a: '' }, { a: 1 }]],
      [{ a: { $type: 'null' } }, [{}, { a: null }]],
      [{ a: { $gt: 1 } }, [{}, { a: null }, { a: 2 }, { a: [0, 2] }]],
      [{ a: { $in: [1, 'x'] } }, [{}, { a: null }, { a: 'x' }, { a: ['x'] }]],
      [{ a: { $eq: 2 } }, [{}, { a: [2] }, { a: 2 }]],
    ];
    for (const [condition, datas] of cases) {
      const compiled = compileCondition(condition);
      const matches = createMatcher(compiled);
      for (const data of datas) {
        if (!matches(data)) continue;
        for (const requirement of extractRequirements(compiled.query)) {
          expect(meetsRequirement(requirement, data), `${show(condition)} on ${show(data)}: ${show(requirement)}`).toBe(true);
        }
      }
    }
  });
});

function sortRequirements(list: Requirement[]): string[] {
  return list.map((r) => JSON.stringify(r)).sort();
}

// -------------------------------------------------------------------------------------------------
// The index itself

describe('buildCatalogIndex / indexCandidates', () => {
  const queries = (...conditions: unknown[]) => conditions.map((c) => compileCondition(c).query);

  it('files each step under one requirement: a literal first, the least shared one', () => {
    const index = buildCatalogIndex(
      queries(
        { order: { status: 'new' }, region: 'eu' }, // 'eu' shared by 3 steps, 'new' by 2: filed under order.status
        { order: { status: 'new' }, region: 'eu' },
        { region: 'eu', flag: true }, // flag=true shared by 1: filed under flag
        { order: { total: { $gt: 5 } } }, // no literal: parent object
        { amount: Number }, // present key
        { a: null }, // nothing: always
        {},
      ),
    );
    expect(index.filedUnder).toEqual([
      { kind: 'value', path: ['order', 'status'], value: 'new' },
      { kind: 'value', path: ['order', 'status'], value: 'new' },
      { kind: 'value', path: ['flag'], value: true },
      { kind: 'object', key: 'order' },
      { kind: 'defined', key: 'amount' },
      null,
      null,
    ]);
    expect(index.always).toEqual([5, 6]);
    expect(indexCandidates(index, {})).toEqual([5, 6]);
    expect(indexCandidates(index, { order: { status: 'new' } })).toEqual([0, 1, 3, 5, 6]);
    expect(indexCandidates(index, { order: [], flag: true, amount: null })).toEqual([2, 4, 5, 6]);
    expect(indexCandidates(index, { order: { status: 'old' }, flag: 'true' })).toEqual([3, 5, 6]);
  });

  it('an empty catalog has no candidates', () => {
    const index = buildCatalogIndex([]);
    expect(index.size).toBe(0);
    expect(indexCandidates(index, { a: 1 })).toEqual([]);
  });

  it('looks literals up by type and SameValueZero (0 and -0 alike, "1" and 1 apart)', () => {
    const index = buildCatalogIndex(queries({ a: 0 }, { a: '0' }, { a: false }, { a: 1 }));
    expect(indexCandidates(index, { a: -0 })).toEqual([0]);
    expect(indexCandidates(index, { a: '0' })).toEqual([1]);
    expect(indexCandidates(index, { a: false })).toEqual([2]);
    expect(indexCandidates(index, { a: [1] })).toEqual([]);
    expect(indexCandidates(index, { a: { 1: 1 } })).toEqual([]);
  });

  it('reads own keys only: prototype names in the data and the conditions', () => {
    const protoData = JSON.parse('{"__proto__": {"s": "x"}, "constructor": "c"}') as JsonObject;
    const steps = [
      step('proto', { ['__proto__']: { s: 'x' } }),
      step('ctor', { constructor: 'c' }),
      step('tostring', { toString: String }),
      step('has_own', { hasOwnProperty: { $exists: true } }),
    ];
    const catalog = compileCatalog({ version: 'v', steps, connectors: {} });
    for (const data of [protoData, {}, { toString: 'x' }, JSON.parse('{"__proto__": null}') as JsonObject]) {
      expect(selectSteps(catalog, data, () => true, 10)).toEqual(selectStepsUnindexed(catalog, data, () => true, 10));
    }
    expect(
      selectSteps(catalog, protoData, () => true, 10)
        .run.map((s) => s.name)
        .sort(),
    ).toEqual(['ctor', 'proto']);
    expect(indexCandidates(catalog.index, {})).toEqual([]);
  });

  it('asks eligibility only of the candidates the index leaves, in catalog order', () => {
    const catalog = compileCatalog({ version: 'v', steps: [step('a', { x: 1 }), step('b', { y: 1 }), step('c', {})], connectors: {} });
    const asked: string[] = [];
    selectSteps(
      catalog,
      { x: 1 },
      (name) => {
        asked.push(name);
        return true;
      },
      10,
    );
    expect(asked).toEqual(['a', 'c']);
  });
});

// -------------------------------------------------------------------------------------------------
// Property: the index never changes a selection

const KEYS = ['a', 'b', 'c', 'd'] as const;
const STRINGS = ['x', 'y', '', 'xy'] as const;
const TYPES = [String, Number, Boolean, Array, Object] as const;
const REGEXPS: Array<[RegExp, string[]]> = [
  [/^x/, ['x', 'xy']],
  [/y$/i, ['y', 'xY']],
];

const key = fc.constantFrom(...KEYS);
const primitive = fc.oneof(fc.integer({ min: -2, max: 2 }), fc.constantFrom(...STRINGS), fc.boolean());
const literalOrNull = fc.oneof(primitive, fc.constant(null));
const reference = fc.constantFrom({ $data: 'a' }, { $data: 'b.c' }, { $data: 'd.length' });

const operatorObject = fc.oneof(
  fc.integer({ min: -2, max: 2 }).map((n) => ({ $gt: n })),
  fc.integer({ min: -2, max: 2 }).map((n) => ({ $lte: n })),
  fc.constantFrom('', 'x', 'y').map((s) => ({ $gte: s })),
  reference.map((r) => ({ $lt: r })),
  fc.array(literalOrNull, { maxLength: 3 }).map((list) => ({ $in: list })),
  fc.array(literalOrNull, { minLength: 1, maxLength: 2 }).map((list) => ({ $nin: list })),
  fc.array(primitive, { maxLength: 2 }).map((list) => ({ $all: list })),
  fc.boolean().map((b) => ({ $exists: b })),
  literalOrNull.map((v) => ({ $ne: v })),
  fc.oneof(literalOrNull, fc.constant(/x/), reference).map((v) => ({ $eq: v })),
  fc.constantFrom({ $regex: '^x' }, { $regex: 'Y', $options: 'i' }),
  fc.integer({ min: 0, max: 2 }).map((n) => ({ $size: n })),
  fc.constantFrom('string', 'number', 'null', 'array', 'object').map((t) => ({ $type: t })),
  fc.integer({ min: -2, max: 2 }).map((n) => ({ $not: { $gt: n } })),
  fc.record({ $elemMatch: fc.dictionary(key, primitive, { minKeys: 1, maxKeys: 2 }) }),
);

const leafPattern = fc.oneof(
  { weight: 6, arbitrary: primitive },
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...TYPES) },
  { weight: 1, arbitrary: fc.constantFrom(...REGEXPS.map(([re]) => re)) },
  { weight: 1, arbitrary: reference },
  { weight: 4, arbitrary: operatorObject },
);

const { fieldObject } = fc.letrec<{ pattern: unknown; fieldObject: Record<string, unknown>; array: unknown[] }>((tie) => ({
  pattern: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 5, arbitrary: leafPattern },
    { weight: 3, arbitrary: tie('fieldObject') },
    { weight: 1, arbitrary: tie('array') },
  ),
  fieldObject: fc
    .tuple(
      fc.dictionary(key, tie('pattern'), { maxKeys: 3 }),
      fc.oneof(
        { weight: 6, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.array(tie('fieldObject'), { minLength: 1, maxLength: 2 }).map((or) => ({ $or: or })) },
        { weight: 1, arbitrary: fc.array(tie('fieldObject'), { minLength: 1, maxLength: 2 }).map((nor) => ({ $nor: nor })) },
        { weight: 1, arbitrary: fc.array(tie('fieldObject'), { minLength: 1, maxLength: 2 }).map((and) => ({ $and: and })) },
      ),
    )
    .map(([fields, logical]) => (logical ? { ...fields, ...logical } : fields)),
  array: fc.array(fc.oneof(primitive, tie('fieldObject')), { maxLength: 2 }),
}));

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function randomJson(r: Rand, depth = 2): JsonValue {
  const roll = r();
  if (depth <= 0 || roll < 0.55) return pick<JsonValue>(r, [0, 1, -2, 2, 'x', 'y', '', 'xy', true, false, null]);
  if (roll < 0.75) return Array.from({ length: Math.floor(r() * 3) }, () => randomJson(r, depth - 1));
  const out: JsonObject = {};
  for (const k of KEYS) if (r() < 0.4) out[k] = randomJson(r, depth - 1);
  return out;
}

/** Values that trip up presence and parent-object reasoning in particular. */
const TRICKY: Array<JsonValue | undefined> = [undefined, null, [], {}, 0, '', false, [{}], 'x'];

/** A value meant to match `p` (undefined: leave the key out), mutated at rate `noise`. */
function derive(p: unknown, r: Rand, noise: number): JsonValue | undefined {
  if (r() < noise) return r() < 0.5 ? pick(r, TRICKY) : randomJson(r);
  if (p === null) return r() < 0.5 ? undefined : null;
  if (typeof p !== 'object' && typeof p !== 'function') return p as JsonValue;
  if (p === String) return pick(r, STRINGS);
  if (p === Number) return pick(r, [0, 1, -2]);
  if (p === Boolean) return r() < 0.5;
  if (p === Array) return r() < 0.5 ? [] : [randomJson(r, 1)];
  if (p === Object) return r() < 0.5 ? {} : { a: randomJson(r, 1) };
  if (p instanceof RegExp) return pick(r, REGEXPS.find(([re]) => re === p)?.[1] ?? ['x']);
  if (Array.isArray(p)) {
    const items = p.map((q) => derive(q, r, noise)).filter((v): v is JsonValue => v !== undefined);
    if (r() < 0.3) items.push(randomJson(r, 1));
    return r() < 0.5 ? items.reverse() : items;
  }
  const obj = p as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length > 0 && keys.every((k) => k.startsWith('$') && !['$or', '$nor', '$and'].includes(k))) return deriveOperators(obj, r);
  const out: JsonObject = {};
  if (r() < 0.3) out[pick(r, KEYS)] = randomJson(r, 1);
  for (const k of keys) {
    if (k === '$or' || k === '$and') {
      const branches = obj[k] as unknown[];
      for (const branch of k === '$or' ? [pick(r, branches)] : branches) {
        const value = derive(branch, r, noise);
        if (isObj(value)) for (const [bk, bv] of Object.entries(value)) if (!(bk in out)) out[bk] = bv as JsonValue;
      }
      continue;
    }
    if (k === '$nor') continue;
    const v = derive(obj[k], r, noise);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function deriveOperators(ops: Record<string, unknown>, r: Rand): JsonValue | undefined {
  if ('$data' in ops) return pick<JsonValue>(r, [0, 1, 'x', 2]);
  if ('$exists' in ops) return ops.$exists ? randomJson(r, 1) : undefined;
  if ('$in' in ops) return (pick(r, ops.$in as JsonValue[]) ?? undefined) as JsonValue | undefined;
  if ('$all' in ops) return ops.$all as JsonValue[];
  if ('$eq' in ops) return ops.$eq === null || typeof ops.$eq !== 'object' ? (ops.$eq as JsonValue) : 'x';
  if ('$gt' in ops) return (ops.$gt as number) + 1;
  if ('$lte' in ops) return ops.$lte as number;
  if ('$gte' in ops) return `${ops.$gte as string}z`;
  if ('$size' in ops) return Array.from({ length: ops.$size as number }, () => 1);
  if ('$regex' in ops) return pick(r, ['x', 'xy', 'y']);
  if ('$type' in ops)
    return ({ string: 'x', number: 1, null: null, array: [], object: {} } as Record<string, JsonValue>)[ops.$type as string] ?? null;
  if ('$elemMatch' in ops) return [ops.$elemMatch as JsonValue];
  return randomJson(r, 1);
}

/** Data for a catalog: several steps' conditions merged (so matches happen), mutated, or random. */
function dataFor(conditions: unknown[], r: Rand): JsonObject {
  const roll = r();
  if (roll < 0.1) {
    const random = randomJson(r, 3);
    return isObj(random) ? random : {};
  }
  const noise = pick(r, [0, 0, 0.05, 0.15, 0.4]);
  const out: JsonObject = {};
  const count = 1 + Math.floor(r() * 3);
  for (let i = 0; i < count; i++) {
    const derived = derive(pick(r, conditions), r, noise);
    if (isObj(derived)) for (const [k, v] of Object.entries(derived)) if (!(k in out) || r() < 0.3) out[k] = v as JsonValue;
  }
  // Top-level damage: a key made missing, null, an array, a primitive or an object.
  if (r() < 0.3) {
    const k = pick(r, KEYS);
    const replacement = pick(r, TRICKY);
    if (replacement === undefined) delete out[k];
    else out[k] = replacement;
  }
  return out;
}

const catalogSample = fc.record({
  conditions: fc.array(fieldObject, { minLength: 1, maxLength: 12 }),
  priorities: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 12, maxLength: 12 }),
  seed: fc.integer(),
});

describe('the index never changes a selection (property)', () => {
  it('selectSteps with the index equals every matcher, on random catalogs and data', () => {
    let compared = 0;
    let matched = 0;
    let skipped = 0;
    let total = 0;
    fc.assert(
      fc.property(catalogSample, ({ conditions, priorities, seed }) => {
        const r = rng(seed);
        const steps = conditions.map((c, i) => step(`s${i}`, c, priorities[i] ?? 0));
        const catalog = compileCatalog({ version: 'v', steps, connectors: {} });
        for (let round = 0; round < 6; round++) {
          const data = dataFor(conditions, r);
          const naive = catalog.steps.flatMap((entry, i) => (entry.matches(data) ? [i] : []));
          const candidates = indexCandidates(catalog.index, data);
          // Sound: every matching step is a candidate; candidates are ascending and distinct.
          const missing = naive.filter((i) => !candidates.includes(i));
          if (missing.length > 0) {
            throw new Error(`index dropped ${missing.map((i) => show(conditions[i])).join(', ')} on data ${show(data)}`);
          }
          expect(candidates).toEqual([...new Set(candidates)].sort((a, b) => a - b));
          // Every extracted requirement (not only the one a step is filed under) holds when the step matches.
          for (const i of naive) {
            for (const requirement of extractRequirements(steps[i]!.condition.query)) {
              if (!meetsRequirement(requirement, data)) {
                throw new Error(`requirement ${show(requirement)} of ${show(conditions[i])} fails on matching data ${show(data)}`);
              }
            }
          }
          // The whole selection, with random eligibility and concurrency, is unchanged.
          const ineligible = new Set(steps.filter(() => r() < 0.2).map((s) => s.name));
          const eligible = (name: string) => !ineligible.has(name);
          const concurrency = 1 + Math.floor(r() * 4);
          expect(selectSteps(catalog, data, eligible, concurrency)).toEqual(selectStepsUnindexed(catalog, data, eligible, concurrency));
          compared++;
          matched += naive.length;
          skipped += steps.length - candidates.length;
          total += steps.length;
        }
      }),
      { numRuns: 1500 },
    );
    // The generators must exercise matches and a working index (steps actually skipped).
    expect(matched / total).toBeGreaterThan(0.05);
    expect(skipped / total).toBeGreaterThan(0.2);
    expect(compared).toBe(1500 * 6);
    // 9,000 selections compared: seconds on an idle machine, more on a busy one.
  }, 180_000);

  it('a catalog of JSON round-tripped conditions indexes the same way', () => {
    fc.assert(
      fc.property(catalogSample, ({ conditions, seed }) => {
        const r = rng(seed);
        const steps = conditions.map((c, i) => step(`s${i}`, c));
        const copies = JSON.parse(JSON.stringify(steps)) as CatalogStep[];
        const a = compileCatalog({ version: 'v', steps, connectors: {} });
        const b = compileCatalog({ version: 'v', steps: copies, connectors: {} });
        expect(b.index.filedUnder).toEqual(a.index.filedUnder);
        const data = dataFor(conditions, r);
        expect(indexCandidates(b.index, data)).toEqual(indexCandidates(a.index, data));
      }),
      { numRuns: 300 },
    );
  });
});
