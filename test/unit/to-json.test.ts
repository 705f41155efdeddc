import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DataValueError, toJson } from '../../src/runtime/to-json';

const where = { step: 'enrich' };

/** Runs toJson and returns the DataValueError it must throw. */
function failure(value: unknown): DataValueError {
  try {
    toJson(value, where);
  } catch (err) {
    expect(err).toBeInstanceOf(DataValueError);
    return err as DataValueError;
  }
  throw new Error('toJson did not throw');
}

class Money {
  constructor(readonly cents: number) {}
}

describe('toJson: JSON values', () => {
  it('copies JSON values unchanged', () => {
    const data = { s: 'x', n: 1.5, t: true, f: false, z: null, a: [1, 'two', [3]], o: { p: { q: [] } } };
    expect(toJson(data, where)).toEqual(data);
  });

  it('returns a fresh deep copy that never aliases the input', () => {
    const inner = { v: [1, 2] };
    const data = { inner, list: [inner] };
    const out = toJson(data, where);
    expect(out).toEqual(data);
    expect(out).not.toBe(data);
    expect(out.inner).not.toBe(inner);
    inner.v.push(3);
    expect(out).toEqual({ inner: { v: [1, 2] }, list: [{ v: [1, 2] }] });
  });

  it('copies a shared but acyclic reference at each place it appears', () => {
    const shared = { id: 7 };
    const out = toJson({ a: shared, b: shared, c: [shared, shared] }, where);
    expect(out).toEqual({ a: { id: 7 }, b: { id: 7 }, c: [{ id: 7 }, { id: 7 }] });
    expect(out.a).not.toBe(out.b);
  });

  it('turns a Date into its ISO string, anywhere', () => {
    const d = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
    expect(toJson({ at: d, list: [d], deep: { at: d } }, where)).toEqual({
      at: '2024-01-02T03:04:05.006Z',
      list: ['2024-01-02T03:04:05.006Z'],
      deep: { at: '2024-01-02T03:04:05.006Z' },
    });
  });

  it('drops undefined properties and writes null for undefined array elements and holes', () => {
    // biome-ignore lint/suspicious/noSparseArray: holes are what this test converts
    const sparse = [1, , 3];
    expect(toJson({ gone: undefined, keep: 1, list: [undefined, 2], sparse }, where)).toEqual({
      keep: 1,
      list: [null, 2],
      sparse: [1, null, 3],
    });
  });

  it('writes -0 as 0', () => {
    expect(Object.is(toJson({ n: -0 }, where).n, 0)).toBe(true);
  });

  it('uses toJSON() when an object has one, with the property key as argument', () => {
    class Slug {
      constructor(readonly s: string) {}
      toJSON(key: string) {
        return { slug: this.s, key };
      }
    }
    expect(toJson({ a: new Slug('x'), url: new URL('https://example.com/p') }, where)).toEqual({
      a: { slug: 'x', key: 'a' },
      url: 'https://example.com/p',
    });
  });

  it('accepts null-prototype objects and values made in another realm (a vm context)', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    const foreign = runInNewContext('({ at: new Date(0), list: [1, { x: 2 }], o: { y: undefined } })');
    expect(toJson({ bare, foreign }, where)).toEqual({
      bare: { a: 1 },
      foreign: { at: '1970-01-01T00:00:00.000Z', list: [1, { x: 2 }], o: {} },
    });
  });

  it('does not change its input', () => {
    const data = { at: new Date(0), gone: undefined, list: [undefined] };
    toJson(data, where);
    expect(data.at).toBeInstanceOf(Date);
    expect('gone' in data).toBe(true);
    expect(data.list).toEqual([undefined]);
  });
});

describe('toJson: values that are not JSON', () => {
  const fn = () => 1;
  const cyclic: Record<string, unknown> = { name: 'c' };
  cyclic.self = cyclic;

  it.each([
    ['a function', { customer: { format: fn } }, 'data.customer.format', 'a function'],
    ['a symbol', { tags: ['a', Symbol('s')] }, 'data.tags[1]', 'a symbol'],
    ['a BigInt', { n: 12n }, 'data.n', 'a BigInt (12n)'],
    ['NaN', { stats: { avg: Number.NaN } }, 'data.stats.avg', 'NaN'],
    ['Infinity', { x: [[Infinity]] }, 'data.x[0][0]', 'Infinity'],
    ['-Infinity', { x: -Infinity }, 'data.x', '-Infinity'],
    ['an invalid Date', { at: new Date('nope') }, 'data.at', 'an invalid Date'],
    ['a Map', { m: new Map([[1, 2]]) }, 'data.m', 'an instance of Map'],
    ['a Set', { s: new Set() }, 'data.s', 'an instance of Set'],
    ['a class instance', { price: new Money(5) }, 'data.price', 'an instance of Money'],
    ['a RegExp', { re: /x/ }, 'data.re', 'an instance of RegExp'],
    ['an odd key', { 'odd key': { 'a-b': [fn] } }, 'data["odd key"]["a-b"][0]', 'a function'],
    ['a numeric key', { 0: fn }, 'data["0"]', 'a function'],
  ])('rejects %s with its path', (_name, data, path, what) => {
    const err = failure(data);
    expect(err.step).toBe('enrich');
    expect(err.problems).toEqual([{ path, message: expect.stringContaining(what) }]);
    expect(err.message).toContain(`step "enrich" wrote ${what}`);
    expect(err.message).toContain(` at ${path}`);
    expect(err.message).toContain('step data must be JSON');
  });

  it('words the message as documented', () => {
    expect(failure({ customer: { format: fn } }).message).toBe(
      'step "enrich" wrote a function at data.customer.format; step data must be JSON',
    );
  });

  it('rejects a cycle and names where it points back to', () => {
    const err = failure({ a: { b: cyclic } });
    expect(err.problems).toEqual([{ path: 'data.a.b.self', message: 'a circular reference (back to data.a.b)' }]);
  });

  it('rejects a cycle through an array', () => {
    const list: unknown[] = [1];
    list.push({ back: list });
    expect(failure({ list }).problems).toEqual([{ path: 'data.list[1].back', message: 'a circular reference (back to data.list)' }]);
  });

  it('rejects the root referring to itself', () => {
    const root: Record<string, unknown> = {};
    root.me = root;
    expect(failure(root).problems[0]?.path).toBe('data.me');
  });

  it('rejects the key __proto__', () => {
    const data = JSON.parse('{"a":{"__proto__":{"x":1}}}') as unknown;
    expect(failure(data).problems).toEqual([{ path: 'data.a.__proto__', message: expect.stringContaining('__proto__') }]);
  });

  it('reports a throwing getter and a throwing toJSON', () => {
    const data = {
      get broken(): number {
        throw new Error('boom');
      },
      t: {
        toJSON: () => {
          throw new Error('bad json');
        },
      },
    };
    expect(failure(data).problems).toEqual([
      { path: 'data.broken', message: 'a property whose getter threw: boom' },
      { path: 'data.t', message: 'an object whose toJSON() threw: bad json' },
    ]);
  });

  it('checks what toJSON() returns', () => {
    expect(failure({ x: { toJSON: () => ({ f: fn }) } }).problems).toEqual([{ path: 'data.x.f', message: 'a function' }]);
  });

  it('catches a cycle made through toJSON()', () => {
    class Node {
      toJSON() {
        return { again: this };
      }
    }
    expect(failure({ n: new Node() }).problems).toEqual([{ path: 'data.n.again', message: 'a circular reference (back to data.n)' }]);
  });

  it('walks an object whose toJSON() returns itself like a plain object', () => {
    const self = {
      a: 1,
      toJSON(): unknown {
        return this;
      },
    };
    expect(failure({ self }).problems).toEqual([{ path: 'data.self.toJSON', message: 'a function' }]);
  });

  it('collects every problem in one error', () => {
    const err = failure({ a: fn, b: [1, NaN, 3n], c: { d: Symbol('x'), e: new Date(Number.NaN) }, ok: 1 });
    expect(err.problems.map((p) => p.path)).toEqual(['data.a', 'data.b[1]', 'data.b[2]', 'data.c.d', 'data.c.e']);
    expect(err.total).toBe(5);
    expect(err.message).toBe(
      'step "enrich" left 5 values that are not JSON (step data must be JSON): ' +
        'wrote a function at data.a; wrote NaN at data.b[1]; wrote a BigInt (3n) at data.b[2]; ' +
        'wrote a symbol at data.c.d; wrote an invalid Date at data.c.e',
    );
  });

  it('keeps the first 20 problems and counts the rest', () => {
    const err = failure({ list: Array.from({ length: 25 }, () => fn) });
    expect(err.problems).toHaveLength(20);
    expect(err.problems[19]?.path).toBe('data.list[19]');
    expect(err.total).toBe(25);
    expect(err.message).toMatch(/; and 5 more$/);
  });
});

describe('toJson: the root', () => {
  it.each([
    ['an array', [1]],
    ['a string', 'x'],
    ['a number', 3],
    ['null', null],
    ['undefined', undefined],
    ['a Date', new Date(0)],
    ['an instance of Money', new Money(1)],
    ['a function', () => 1],
  ])('rejects data set to %s', (what, value) => {
    const err = failure(value);
    expect(err.problems[0]).toEqual({ path: 'data', message: expect.stringContaining(what) });
    expect(err.message).toMatch(new RegExp(`^step "enrich" set data to ${what}`));
  });

  it('says both that the root is wrong and what inside it is wrong', () => {
    const err = failure([() => 1]);
    expect(err.problems).toEqual([
      { path: 'data', message: 'an array' },
      { path: 'data[0]', message: 'a function' },
    ]);
  });

  it('accepts a root whose toJSON() gives an object', () => {
    expect(toJson({ toJSON: () => ({ a: 1 }) }, where)).toEqual({ a: 1 });
  });
});
