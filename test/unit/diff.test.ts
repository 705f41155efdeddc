import fc from 'fast-check';
import { applyPatch } from 'rfc6902';
import { describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../../src/model/json';
import { applyPatchTo, changedPaths, DataPatchError, diffData, pathTokens, type DataPatch } from '../../src/model/patch';

// ---- generators: JSON objects, and an "after" that is an edit of a "before" -------------------

/** Short random keys plus names rfc6902 or pointers treat specially (never __proto__: rejected). */
const key = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 5 }).filter((k) => k !== '__proto__') },
  fc.constantFrom('constructor', 'prototype', 'toString', 'valueOf', 'a/b', '~1', '', '-', '0'),
);
const leaf: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 5 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (n === 0 ? 0 : n)),
  fc.string({ maxLength: 4 }),
);
const { value: jsonValue } = fc.letrec<{ value: JsonValue; object: JsonObject }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 3 }, leaf, fc.array(tie('value'), { maxLength: 3 }), tie('object')),
  object: fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
}));
const jsonObject = fc.dictionary(key, jsonValue, { maxKeys: 5, noNullPrototype: true });

/** A random edit of `v`: kept, replaced, or (objects) edited key by key, (arrays) grown/shrunk/edited. */
function edit(v: JsonValue, depth = 0): fc.Arbitrary<JsonValue> {
  if (depth < 4 && v !== null && typeof v === 'object' && !Array.isArray(v)) {
    return fc.oneof({ weight: 4, arbitrary: editObject(v, depth) }, jsonValue);
  }
  if (depth < 4 && Array.isArray(v)) {
    const items = fc.tuple(...v.map((item) => fc.oneof({ weight: 3, arbitrary: fc.constant(item) }, edit(item, depth + 1))));
    return fc.oneof(
      fc.constant(v),
      items.map((list) => list as JsonValue),
      fc.tuple(items, jsonValue).map(([list, extra]) => [...list, extra]),
      fc.constant(v.slice(1)),
      jsonValue,
    );
  }
  return fc.oneof({ weight: 2, arbitrary: fc.constant(v) }, jsonValue);
}

function editObject(o: JsonObject, depth = 0, newKey = key): fc.Arbitrary<JsonObject> {
  const keys = Object.keys(o);
  const REMOVE = Symbol('remove');
  const perKey = keys.map((k) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constant(o[k] as JsonValue) },
      { weight: 1, arbitrary: fc.constant(REMOVE) },
      { weight: 2, arbitrary: edit(o[k] as JsonValue, depth + 1) },
    ),
  );
  return fc.tuple(fc.tuple(...perKey), fc.dictionary(newKey, jsonValue, { maxKeys: 2, noNullPrototype: true })).map(([values, added]) => {
    const out: JsonObject = {};
    keys.forEach((k, i) => {
      const v = values[i];
      if (v !== REMOVE && v !== undefined) out[k] = v as JsonValue;
    });
    return { ...out, ...added };
  });
}

const beforeAfter = fc.oneof(
  { weight: 4, arbitrary: jsonObject.chain((before) => editObject(before).map((after) => [before, after] as const)) },
  { weight: 1, arbitrary: fc.tuple(jsonObject, jsonObject) },
);

// ---- helpers ----------------------------------------------------------------------------------

/** The JSON Pointer → value pairs of the container nodes a path goes through, in `data`. */
function indexesIntoArray(data: JsonValue, path: string): boolean {
  let node: JsonValue | undefined = data;
  for (const token of pathTokens(path)) {
    if (Array.isArray(node)) return true;
    node = node !== null && typeof node === 'object' && Object.hasOwn(node, token) ? node[token] : undefined;
  }
  return false;
}

// ---- table tests ------------------------------------------------------------------------------

describe('diffData', () => {
  it.each<[string, JsonObject, JsonObject, DataPatch]>([
    ['no change', { a: 1, b: [1, { c: 2 }] }, { a: 1, b: [1, { c: 2 }] }, []],
    ['a key added', { a: 1 }, { a: 1, b: { c: [1] } }, [{ op: 'add', path: '/b', value: { c: [1] } }]],
    ['a key removed', { a: 1, b: 2 }, { a: 1 }, [{ op: 'remove', path: '/b' }]],
    ['a primitive replaced', { a: 1 }, { a: 'one' }, [{ op: 'replace', path: '/a', value: 'one' }]],
    ['a nested key', { o: { p: { q: 1, r: 2 } } }, { o: { p: { q: 3, r: 2 } } }, [{ op: 'replace', path: '/o/p/q', value: 3 }]],
    [
      'an array element changed',
      { o: { list: [1, 2, 3] } },
      { o: { list: [1, 9, 3] } },
      [{ op: 'replace', path: '/o/list', value: [1, 9, 3] }],
    ],
    ['an array appended to', { list: [1] }, { list: [1, 2] }, [{ op: 'replace', path: '/list', value: [1, 2] }]],
    ['an object inside an array', { list: [{ a: 1 }] }, { list: [{ a: 2 }] }, [{ op: 'replace', path: '/list', value: [{ a: 2 }] }]],
    ['an array becoming an object', { x: [1] }, { x: { 0: 1 } }, [{ op: 'replace', path: '/x', value: { 0: 1 } }]],
    ['an object becoming an array', { x: { a: 1 } }, { x: [1] }, [{ op: 'replace', path: '/x', value: [1] }]],
    ['escaped keys', { 'a/b': { '~c': 1 } }, { 'a/b': { '~c': 2 } }, [{ op: 'replace', path: '/a~1b/~0c', value: 2 }]],
    [
      'a key named constructor is replaced whole',
      { constructor: { a: 1, b: 1 } },
      { constructor: { a: 2, b: 1 } },
      [{ op: 'replace', path: '/constructor', value: { a: 2, b: 1 } }],
    ],
    ['a key named prototype is added', { o: {} }, { o: { prototype: 1 } }, [{ op: 'add', path: '/o/prototype', value: 1 }]],
  ])('%s', (_name, before, after, expected) => {
    const patch = diffData(before, after);
    expect(patch).toEqual(expected);
    expect(applyPatchTo(before, patch)).toEqual(after);
  });

  it('removes every key when data becomes {}', () => {
    const patch = diffData({ a: 1, b: { c: 2 }, d: [1] }, {});
    expect(patch).toEqual([
      { op: 'remove', path: '/a' },
      { op: 'remove', path: '/b' },
      { op: 'remove', path: '/d' },
    ]);
    expect(applyPatchTo({ a: 1, b: { c: 2 }, d: [1] }, patch)).toEqual({});
  });

  it('copies values so the patch does not alias `after`', () => {
    const after: JsonObject = { a: { list: [1] } };
    const patch = diffData({}, after);
    ((after.a as JsonObject).list as JsonValue[]).push(2);
    expect(patch).toEqual([{ op: 'add', path: '/a', value: { list: [1] } }]);
  });

  it('refuses to patch a __proto__ key', () => {
    const after = JSON.parse('{"__proto__": {"x": 1}}') as JsonObject;
    expect(() => diffData({}, after)).toThrow(DataPatchError);
    expect(() => diffData({}, { a: [after] })).toThrow(/__proto__/);
  });
});

describe('changedPaths', () => {
  it('sorts and dedupes the paths', () => {
    expect(
      changedPaths([
        { op: 'replace', path: '/b', value: 1 },
        { op: 'remove', path: '/a/c' },
        { op: 'add', path: '/b', value: 2 },
        { op: 'add', path: '/a', value: 2 },
      ]),
    ).toEqual(['/a', '/a/c', '/b']);
  });
});

describe('applyPatchTo', () => {
  it('does not change its input', () => {
    const data: JsonObject = { a: { b: 1 }, list: [1] };
    const out = applyPatchTo(data, [
      { op: 'replace', path: '/a/b', value: 2 },
      { op: 'add', path: '/list/-', value: 2 },
    ]);
    expect(out).toEqual({ a: { b: 2 }, list: [1, 2] });
    expect(data).toEqual({ a: { b: 1 }, list: [1] });
  });

  it('keeps an own __proto__ key of the input as data in the copy', () => {
    const data = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as JsonObject;
    const out = applyPatchTo(data, [{ op: 'replace', path: '/a', value: 2 }]);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'a']);
  });

  it('does not alias the patch values', () => {
    const value: JsonObject = { x: 1 };
    const out = applyPatchTo({}, [{ op: 'add', path: '/v', value }]);
    value.x = 2;
    expect(out).toEqual({ v: { x: 1 } });
  });

  it.each<[string, JsonObject, DataPatch, RegExp]>([
    ['removing a missing key', { a: 1 }, [{ op: 'remove', path: '/b' }], /operation 0 \(remove \/b\): no key "b"/],
    ['replacing a missing key', { a: 1 }, [{ op: 'replace', path: '/b', value: 1 }], /no key "b"/],
    ['adding under a missing parent', {}, [{ op: 'add', path: '/a/b', value: 1 }], /no key "a"/],
    ['adding under a string', { a: 'x' }, [{ op: 'add', path: '/a/b', value: 1 }], /not an object or array/],
    ['going through an inherited name', {}, [{ op: 'add', path: '/toString/x', value: 1 }], /no key "toString"/],
    ['removing the root', { a: 1 }, [{ op: 'remove', path: '' }], /root of data/],
    [
      'a path through constructor',
      { constructor: { a: 1 } },
      [{ op: 'replace', path: '/constructor/a', value: 1 }],
      /through the key "constructor"/,
    ],
    ['a __proto__ path', {}, [{ op: 'add', path: '/__proto__', value: {} }], /__proto__/],
    ['a move op', { a: 1 }, [{ op: 'move', from: '/a', path: '/b' } as unknown as DataPatch[number]], /only add, remove and replace/],
    ['an invalid pointer', { a: 1 }, [{ op: 'remove', path: 'a' }], /invalid JSON Pointer/],
    [
      'the second op failing',
      { a: 1 },
      [
        { op: 'remove', path: '/a' },
        { op: 'remove', path: '/a' },
      ],
      /operation 1 \(remove \/a\)/,
    ],
  ])('throws a clear error for %s', (_name, data, patch, message) => {
    expect(() => applyPatchTo(data, patch)).toThrow(message);
    expect(() => applyPatchTo(data, patch)).toThrow(DataPatchError);
  });

  it('does not pollute built-ins through inherited names', () => {
    expect(() => applyPatchTo({}, [{ op: 'add', path: '/valueOf/polluted', value: 1 }])).toThrow(DataPatchError);
    expect((Object.prototype.valueOf as unknown as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('applyPatchTo on array elements (patches not made by diffData)', () => {
  const data: JsonObject = { list: [1, 2, 3], nested: { rows: [{ id: 1 }, { id: 2 }] } };
  it.each<[string, DataPatch]>([
    ['add at an index', [{ op: 'add', path: '/list/1', value: 9 }]],
    ['add at the end', [{ op: 'add', path: '/list/-', value: 9 }]],
    ['add at the length', [{ op: 'add', path: '/list/3', value: 9 }]],
    ['replace an element', [{ op: 'replace', path: '/list/0', value: 9 }]],
    ['remove an element', [{ op: 'remove', path: '/list/2' }]],
    ['write inside an element', [{ op: 'add', path: '/nested/rows/1/name', value: 'b' }]],
    [
      'several ops on one array',
      [
        { op: 'remove', path: '/list/0' },
        { op: 'add', path: '/list/0', value: 7 },
        { op: 'replace', path: '/list/2', value: 8 },
      ],
    ],
  ])('%s: as rfc6902 applies it, without changing the input', (_name, patch) => {
    const expected = structuredClone(data);
    applyPatch(expected, patch);
    const input = deepFreeze(structuredClone(data));
    expect(applyPatchTo(input, patch)).toEqual(expected);
  });
});

/** Freezes every object and array of `value`, so an in-place write throws (test files are strict mode). */
function deepFreeze<T extends JsonValue>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item as JsonValue);
    Object.freeze(value);
  }
  return value;
}

// ---- properties -------------------------------------------------------------------------------

describe('diffData properties', () => {
  it('applying the diff of before → after to before gives after', () => {
    fc.assert(
      fc.property(beforeAfter, ([before, after]) => {
        expect(applyPatchTo(before, diffData(before, after))).toEqual(after);
      }),
      { numRuns: 400 },
    );
  });

  it('never changes `before`, deeply frozen, and shares every subtree the patch does not touch', () => {
    fc.assert(
      fc.property(beforeAfter, ([before, after]) => {
        const patch = diffData(before, after);
        const result = applyPatchTo(deepFreeze(structuredClone(before)), patch);
        expect(result).toEqual(after);
        const touched = new Set(patch.map((op) => pathTokens(op.path)[0]));
        const frozen = deepFreeze(before);
        const shared = applyPatchTo(frozen, patch);
        for (const key of Object.keys(frozen)) if (!touched.has(key)) expect(shared[key]).toBe(frozen[key]);
      }),
      { numRuns: 300 },
    );
  });

  it('never indexes into an array, and writes each path at most once', () => {
    fc.assert(
      fc.property(beforeAfter, ([before, after]) => {
        const patch = diffData(before, after);
        for (const op of patch) {
          expect(indexesIntoArray(before, op.path)).toBe(false);
          expect(indexesIntoArray(after, op.path)).toBe(false);
        }
        expect(changedPaths(patch)).toHaveLength(patch.length);
      }),
      { numRuns: 300 },
    );
  });

  it('gives an empty patch for equal objects', () => {
    fc.assert(
      fc.property(jsonObject, (o) => {
        expect(diffData(o, structuredClone(o))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
