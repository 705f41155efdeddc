import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, copyJson, formatJsonPath, joinJsonPaths, jsonEqual, type JsonValue } from '../../src/model/json';

describe('formatJsonPath', () => {
  it.each([
    [[], 'data', 'data'],
    [['a', 'b', 2, 'c'], 'data', 'data.a.b[2].c'],
    [['odd key', '$ok', '_x1', '1x', 'a"b'], 'data', 'data["odd key"].$ok._x1["1x"]["a\\"b"]'],
    [[], '', ''],
    [['defaults', 'retry', 'maximumAttempts'], '', 'defaults.retry.maximumAttempts'],
    [[0, 'a'], '', '[0].a'],
    [['connectors', 'mail-server', 'retry'], '', 'connectors["mail-server"].retry'],
    [['validateFinalState', 'order.status'], '', 'validateFinalState["order.status"]'],
  ] as const)('%j after %j → %s', (segments, root, path) => {
    expect(formatJsonPath(segments, root)).toBe(path);
  });
});

describe('joinJsonPaths', () => {
  it.each([
    ['condition', 'order.status', 'condition.order.status'],
    ['steps[2]', 'name', 'steps[2].name'],
    ['condition', '[0].sku', 'condition[0].sku'],
    ['condition', 'a[".[x"]', 'condition.a[".[x"]'],
    ['', 'name', 'name'],
    ['options', '', 'options'],
  ])('%s + %s → %s', (outer, inner, joined) => {
    expect(joinJsonPaths(outer, inner)).toBe(joined);
  });
});

const json: fc.Arbitrary<JsonValue> = fc.jsonValue() as fc.Arbitrary<JsonValue>;

describe('jsonEqual', () => {
  it('holds for a value and its copy, and matches equality of canonical JSON text', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        expect(jsonEqual(a, copyJson(a))).toBe(true);
        expect(jsonEqual(a, b)).toBe(canonicalJson(a) === canonicalJson(b));
      }),
    );
  });

  it('ignores key order, not array order', () => {
    expect(jsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
  });
});
