import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergePatches, type StepPatch } from '../../src/cycle/merge';
import type { JsonObject, JsonValue } from '../../src/model/json';
import { applyPatchTo, changedPaths, DataPatchError, diffData, pathTokens } from '../../src/model/patch';

// ---- generators (same shapes as diff.test.ts) --------------------------------------------------

const key = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 4 }).filter((k) => k !== '__proto__') },
  fc.constantFrom('constructor', 'toString', 'a/b', '~1', ''),
);
const leaf: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -9, max: 9 }),
  fc.string({ maxLength: 3 }),
);
const { value: jsonValue } = fc.letrec<{ value: JsonValue; object: JsonObject }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 3 }, leaf, fc.array(tie('value'), { maxLength: 3 }), tie('object')),
  object: fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
}));
const objectOf = (keys: fc.Arbitrary<string>) => fc.dictionary(keys, jsonValue, { maxKeys: 5, noNullPrototype: true });
const jsonObject = objectOf(key);

/** A random edit of an object: keys kept, removed, replaced or edited inside; new keys added. */
function editObject(o: JsonObject, newKey = key, depth = 0): fc.Arbitrary<JsonObject> {
  const keys = Object.keys(o);
  const REMOVE = Symbol('remove');
  const perKey = keys.map((k) => {
    const v = o[k] as JsonValue;
    const inner = depth < 3 && v !== null && typeof v === 'object' && !Array.isArray(v) ? [editObject(v, key, depth + 1)] : [];
    return fc.oneof(fc.constant(v), fc.constant(v), fc.constant(REMOVE), jsonValue, ...inner);
  });
  return fc.tuple(fc.tuple(...perKey), fc.dictionary(newKey, jsonValue, { maxKeys: 2, noNullPrototype: true })).map(([values, added]) => {
    const out: JsonObject = {};
    keys.forEach((k, i) => {
      const v = values[i];
      if (v !== REMOVE && v !== undefined) out[k] = v as JsonValue;
    });
    return { ...out, ...added };
  });
}

/** The value at a JSON Pointer, or undefined when it does not exist (own properties only). */
function at(data: JsonValue, path: string): JsonValue | undefined {
  let node: JsonValue | undefined = data;
  for (const token of pathTokens(path)) {
    node = node !== null && typeof node === 'object' && Object.hasOwn(node, token) ? (node as JsonObject)[token] : undefined;
  }
  return node;
}

function overlaps(a: string, b: string): boolean {
  const x = pathTokens(a);
  const y = pathTokens(b);
  return x.slice(0, y.length).every((t, i) => t === y[i]) || y.slice(0, x.length).every((t, i) => t === x[i]);
}

// ---- table tests ------------------------------------------------------------------------------

describe('mergePatches', () => {
  const snapshot: JsonObject = { ab: 1, o: { p: 1, q: 2 }, list: [1, 2, 3], keep: true };

  it('applies patches on different paths and records no conflict', () => {
    const result = mergePatches(snapshot, [
      { step: 'a', patch: [{ op: 'replace', path: '/ab', value: 2 }] },
      {
        step: 'b',
        patch: [
          { op: 'add', path: '/abc', value: 3 },
          { op: 'replace', path: '/o/q', value: 9 },
        ],
      },
    ]);
    // `/ab` is not an ancestor of `/abc`: pointers are compared segment by segment.
    expect(result).toEqual({
      data: { ab: 2, abc: 3, o: { p: 1, q: 9 }, list: [1, 2, 3], keep: true },
      conflicts: [],
      applied: [
        { step: 'a', changed: ['/ab'] },
        { step: 'b', changed: ['/abc', '/o/q'] },
      ],
    });
  });

  it.each([
    ['the same path', { op: 'replace', path: '/o/p', value: 'A' }, { op: 'replace', path: '/o/p', value: 'B' }, { p: 'A', q: 2 }],
    ['an ancestor of an earlier write', { op: 'replace', path: '/o/p', value: 'A' }, { op: 'remove', path: '/o' }, { p: 'A', q: 2 }],
    ['a descendant of an earlier write', { op: 'replace', path: '/o', value: 'A' }, { op: 'replace', path: '/o/q', value: 'B' }, 'A'],
  ] as const)('drops a later write to %s and records the conflict', (_name, first, second, o) => {
    const result = mergePatches(snapshot, [
      { step: 'first', patch: [first] },
      { step: 'second', patch: [second, { op: 'replace', path: '/keep', value: false }] },
    ]);
    expect(result.data).toEqual({ ...snapshot, o, keep: false });
    expect(result.conflicts).toEqual([{ paths: [second.path], kept: 'first', dropped: 'second' }]);
    expect(result.applied).toEqual([
      { step: 'first', changed: [first.path] },
      { step: 'second', changed: ['/keep'] },
    ]);
  });

  it('records one conflict per (kept, dropped) pair, in rank order', () => {
    const result = mergePatches(snapshot, [
      { step: 'a', patch: [{ op: 'replace', path: '/o/p', value: 'a' }] },
      {
        step: 'b',
        patch: [
          { op: 'replace', path: '/o/q', value: 'b' },
          { op: 'replace', path: '/ab', value: 'b' },
        ],
      },
      {
        step: 'c',
        patch: [
          { op: 'replace', path: '/o', value: 'c' },
          { op: 'replace', path: '/ab', value: 'c' },
          { op: 'add', path: '/new', value: 'c' },
        ],
      },
    ]);
    expect(result.data).toEqual({ ab: 'b', o: { p: 'a', q: 'b' }, list: [1, 2, 3], keep: true, new: 'c' });
    expect(result.conflicts).toEqual([
      { paths: ['/o'], kept: 'a', dropped: 'c' },
      { paths: ['/ab', '/o'], kept: 'b', dropped: 'c' },
    ]);
    expect(result.applied.map((a) => a.changed)).toEqual([['/o/p'], ['/ab', '/o/q'], ['/new']]);
  });

  it('counts only applied ops as written: a dropped op blocks nothing', () => {
    const result = mergePatches(snapshot, [
      { step: 'a', patch: [{ op: 'replace', path: '/ab', value: 'a' }] },
      {
        step: 'b',
        patch: [
          { op: 'replace', path: '/ab', value: 'b' },
          { op: 'replace', path: '/keep', value: 'b' },
        ],
      },
      {
        step: 'c',
        patch: [
          { op: 'replace', path: '/ab', value: 'c' },
          { op: 'replace', path: '/keep', value: 'c' },
        ],
      },
    ]);
    expect(result.data).toMatchObject({ ab: 'a', keep: 'b' });
    expect(result.conflicts).toEqual([
      { paths: ['/ab'], kept: 'a', dropped: 'b' },
      { paths: ['/ab'], kept: 'a', dropped: 'c' },
      { paths: ['/keep'], kept: 'b', dropped: 'c' },
    ]);
  });

  it('treats ops inside one array as overlapping (patches not made by diffData)', () => {
    const result = mergePatches(snapshot, [
      { step: 'a', patch: [{ op: 'remove', path: '/list/0' }] },
      { step: 'b', patch: [{ op: 'replace', path: '/list/2', value: 9 }] },
    ]);
    expect(result.data.list).toEqual([2, 3]);
    expect(result.conflicts).toEqual([{ paths: ['/list/2'], kept: 'a', dropped: 'b' }]);
  });

  it('never changes the snapshot; copies what a patch touches and shares the rest', () => {
    const copy = structuredClone(snapshot);
    expect(mergePatches(snapshot, [])).toEqual({ data: snapshot, conflicts: [], applied: [] });
    const { data } = mergePatches(snapshot, [{ step: 'a', patch: [{ op: 'remove', path: '/o/p' }] }]);
    expect(snapshot).toEqual(copy);
    expect(data.o).toEqual({ q: 2 });
    expect(data.o).not.toBe(snapshot.o);
    expect(data.list).toBe(snapshot.list);
  });

  it('lists a step with an empty patch as having changed nothing', () => {
    expect(mergePatches(snapshot, [{ step: 'idle', patch: [] }]).applied).toEqual([{ step: 'idle', changed: [] }]);
  });

  it('throws a DataPatchError for a patch that does not fit the snapshot', () => {
    expect(() => mergePatches(snapshot, [{ step: 'a', patch: [{ op: 'remove', path: '/missing' }] }])).toThrow(DataPatchError);
  });

  it('is deterministic', () => {
    const patches: StepPatch[] = [
      { step: 'a', patch: diffData(snapshot, { ...snapshot, o: { p: 3 }, z: 1 }) },
      { step: 'b', patch: diffData(snapshot, { ...snapshot, o: 'x', y: [1] }) },
    ];
    expect(JSON.stringify(mergePatches(snapshot, patches))).toBe(JSON.stringify(mergePatches(snapshot, patches)));
  });
});

// ---- properties -------------------------------------------------------------------------------

describe('mergePatches properties', () => {
  it('one patch alone gives exactly the data it was computed for', () => {
    fc.assert(
      fc.property(
        jsonObject.chain((s) => editObject(s).map((x) => [s, x] as const)),
        ([s, x]) => {
          const patch = diffData(s, x);
          const result = mergePatches(s, [{ step: 'a', patch }]);
          expect(result.data).toEqual(x);
          expect(result.conflicts).toEqual([]);
          expect(result.applied).toEqual([{ step: 'a', changed: changedPaths(patch) }]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('patches on disjoint top-level keys both apply, without conflict', () => {
    const keyA = key.map((k) => `a${k}`);
    const keyB = key.map((k) => `b${k}`);
    const arb = fc
      .tuple(objectOf(keyA), objectOf(keyB))
      .chain(([sa, sb]) => fc.tuple(fc.constant(sa), fc.constant(sb), editObject(sa, keyA), editObject(sb, keyB)));
    fc.assert(
      fc.property(arb, ([sa, sb, xa, xb]) => {
        const s = { ...sa, ...sb };
        const result = mergePatches(s, [
          { step: 'a', patch: diffData(s, { ...xa, ...sb }) },
          { step: 'b', patch: diffData(s, { ...sa, ...xb }) },
        ]);
        expect(result.data).toEqual({ ...xa, ...xb });
        expect(result.conflicts).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('on overlapping writes the higher-ranked value wins and the conflict names both steps', () => {
    const arb = fc.tuple(jsonObject, key, jsonValue, jsonValue, jsonValue, fc.boolean()).filter(([s, k, v1, v2]) => {
      const old = Object.hasOwn(s, k) ? s[k] : undefined;
      const isObject = (v: JsonValue | undefined) => v !== null && typeof v === 'object' && !Array.isArray(v);
      // Three objects could be edited on disjoint sub-keys: that is not an overlapping write.
      if ([v1, v2, old].every(isObject)) return false;
      return [v1, v2, old].every((v, i, all) => all.slice(i + 1).every((w) => JSON.stringify(w) !== JSON.stringify(v)));
    });
    fc.assert(
      fc.property(arb, ([s, k, v1, v2, bFirst]) => {
        const a = { step: 'a', patch: diffData(s, { ...s, [k]: v1 }) };
        const b = { step: 'b', patch: diffData(s, { ...s, [k]: v2 }) };
        const [kept, dropped, wins] = bFirst ? [b, a, v2] : [a, b, v1];
        const result = mergePatches(s, [kept, dropped]);
        expect(result.data[k]).toEqual(wins);
        expect(result.conflicts).toHaveLength(1);
        expect(result.conflicts[0]).toMatchObject({ kept: kept.step, dropped: dropped.step });
        expect(result.conflicts[0]?.paths.length).toBeGreaterThan(0);
        expect(result.applied[1]?.changed).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('a step that replaces a whole object beats a later step editing inside it', () => {
    const arb = fc
      .tuple(jsonObject, key, fc.dictionary(key, jsonValue, { minKeys: 1, maxKeys: 4, noNullPrototype: true }), leaf)
      .chain(([s, k, inner, v1]) => editObject(inner).map((edited) => ({ s: { ...s, [k]: inner }, k, edited, v1 })))
      .filter(({ s, k, edited }) => diffData(s, { ...s, [k]: edited }).length > 0);
    fc.assert(
      fc.property(arb, ({ s, k, edited, v1 }) => {
        const a = { step: 'a', patch: diffData(s, { ...s, [k]: v1 }) };
        const b = { step: 'b', patch: diffData(s, { ...s, [k]: edited }) };
        const result = mergePatches(s, [a, b]);
        expect(result.data).toEqual({ ...s, [k]: v1 });
        expect(result.conflicts).toEqual([{ kept: 'a', dropped: 'b', paths: changedPaths(b.patch) }]);
      }),
      { numRuns: 200 },
    );
  });

  it('for any two edits: all of the first applies; the second applies exactly where it does not overlap', () => {
    const arb = jsonObject.chain((s) => fc.tuple(fc.constant(s), editObject(s), editObject(s)));
    fc.assert(
      fc.property(arb, ([s, x, y]) => {
        const pa = diffData(s, x);
        const pb = diffData(s, y);
        const result = mergePatches(s, [
          { step: 'a', patch: pa },
          { step: 'b', patch: pb },
        ]);
        const aPaths = changedPaths(pa);
        for (const path of aPaths) expect(at(result.data, path)).toEqual(at(x, path));
        const bKept = pb.filter((op) => !aPaths.some((p) => overlaps(p, op.path)));
        const bDropped = changedPaths(pb.filter((op) => !bKept.includes(op)));
        expect(result.applied).toEqual([
          { step: 'a', changed: aPaths },
          { step: 'b', changed: changedPaths(bKept) },
        ]);
        expect(result.conflicts).toEqual(bDropped.length ? [{ paths: bDropped, kept: 'a', dropped: 'b' }] : []);
        expect(result.data).toEqual(applyPatchTo(applyPatchTo(s, pa), bKept));
      }),
      { numRuns: 300 },
    );
  });
});
