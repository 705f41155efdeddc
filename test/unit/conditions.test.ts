import { describe, it, expect } from 'vitest';
import vm from 'node:vm';
import { compileCondition, createMatcher, explainMismatch, ConditionError, type CompiledCondition } from '../../src/conditions';
import type { JsonObject } from '../../src/model/json';

/** Matches through the compiled form, its JSON round trip and explainMismatch; all must agree. */
function matches(condition: unknown, data: JsonObject): boolean {
  const compiled = compileCondition(condition);
  const direct = createMatcher(compiled)(data);
  const roundTripped = JSON.parse(JSON.stringify(compiled)) as CompiledCondition;
  expect(roundTripped).toEqual(compiled);
  expect(createMatcher(roundTripped)(data)).toBe(direct);
  expect(explainMismatch(roundTripped, data) === null).toBe(direct);
  return direct;
}

interface RuleCase {
  rule: string;
  condition: unknown;
  yes: JsonObject[];
  no: JsonObject[];
}

const RULES: RuleCase[] = [
  // --- primitive literals
  {
    rule: 'string literal',
    condition: { order: { status: 'new' } },
    yes: [{ order: { status: 'new' } }, { order: { status: 'new', id: 1 }, other: true }],
    no: [{ order: { status: 'New' } }, { order: { status: ['new'] } }, { order: {} }, {}, { order: 'new' }],
  },
  {
    rule: 'number literal',
    condition: { n: 0 },
    yes: [{ n: 0 }],
    no: [{ n: '0' }, { n: false }, { n: null }, {}, { n: [0] }],
  },
  {
    rule: 'boolean literal',
    condition: { flag: false },
    yes: [{ flag: false }],
    no: [{ flag: 0 }, { flag: null }, {}, { flag: 'false' }, { flag: [false] }],
  },
  // --- type constructors
  {
    rule: 'String',
    condition: { s: String },
    yes: [{ s: '' }, { s: 'x' }],
    no: [{ s: 1 }, { s: null }, {}, { s: ['x'] }],
  },
  {
    rule: 'Number (0 included)',
    condition: { n: Number },
    yes: [{ n: 0 }, { n: -3.5 }],
    no: [{ n: '1' }, { n: null }, {}, { n: [1] }, { n: true }],
  },
  {
    rule: 'Boolean',
    condition: { b: Boolean },
    yes: [{ b: true }, { b: false }],
    no: [{ b: 0 }, { b: 'true' }, {}, { b: null }],
  },
  {
    rule: 'Array ([] included)',
    condition: { list: Array },
    yes: [{ list: [] }, { list: [1, 'a'] }],
    no: [{ list: {} }, { list: 'abc' }, {}, { list: null }],
  },
  {
    rule: 'Object ({} included, arrays excluded)',
    condition: { o: Object },
    yes: [{ o: {} }, { o: { a: 1 } }],
    no: [{ o: [] }, { o: null }, {}, { o: 'x' }],
  },
  // --- nested objects
  {
    rule: 'nested partial pattern',
    condition: { invoice: { state: 'draft', buyer: { name: String, credit: Number } } },
    yes: [{ invoice: { state: 'draft', buyer: { name: 'Ada', credit: 0, country: 'FR' }, id: 7 } }],
    no: [
      { invoice: { state: 'draft', buyer: { name: 'Ada' } } },
      { invoice: { state: 'draft', buyer: [{ name: 'Ada', credit: 1 }] } },
      { invoice: { state: 'draft', buyer: 'Ada' } },
      { invoice: { state: 'draft' } },
      {},
    ],
  },
  {
    rule: 'a nested pattern needs its object: null accepts a missing key inside it, not a missing object',
    condition: { a: { b: null } },
    yes: [{ a: {} }, { a: { b: null } }],
    no: [{}, { a: 5 }, { a: [] }, { a: null }, { a: { b: 0 } }, { a: { b: {} } }],
  },
  {
    rule: 'empty nested pattern {} means an object',
    condition: { a: {} },
    yes: [{ a: {} }, { a: { x: 1 } }],
    no: [{}, { a: [] }, { a: null }, { a: 'x' }],
  },
  {
    rule: 'empty root condition matches everything',
    condition: {},
    yes: [{}, { a: 1 }],
    no: [],
  },
  // --- null
  {
    rule: 'null: null or missing',
    condition: { webhook: { endpoint: String, error: null } },
    yes: [{ webhook: { endpoint: 'u' } }, { webhook: { endpoint: 'u', error: null } }],
    no: [{ webhook: { endpoint: 'u', error: false } }, { webhook: { endpoint: 'u', error: 0 } }, { webhook: { endpoint: 'u', error: '' } }],
  },
  {
    rule: '{ $ne: null }: present and not null',
    condition: { a: { $ne: null } },
    yes: [{ a: 0 }, { a: false }, { a: '' }, { a: {} }],
    no: [{ a: null }, {}],
  },
  // --- RegExp
  {
    rule: 'RegExp: a matching string',
    condition: { email: /@example\.com$/ },
    yes: [{ email: 'a@example.com' }],
    no: [{ email: 'a@example.org' }, { email: ['a@example.com'] }, {}, { email: 5 }],
  },
  {
    rule: 'RegExp flag i',
    condition: { s: /^abc$/i },
    yes: [{ s: 'ABC' }],
    no: [{ s: 'abcd' }],
  },
  {
    rule: 'RegExp flag m',
    condition: { s: /^b$/m },
    yes: [{ s: 'a\nb\nc' }],
    no: [{ s: 'abc' }],
  },
  {
    rule: 'RegExp flag s',
    condition: { s: /a.b/s },
    yes: [{ s: 'a\nb' }],
    no: [{ s: 'a\n\nb' }],
  },
  {
    rule: 'RegExp flag u',
    condition: { s: /^.$/u },
    yes: [{ s: '😀' }],
    no: [{ s: 'ab' }],
  },
  {
    rule: 'RegExp on numbers does not match',
    condition: { n: /1/ },
    yes: [{ n: '1' }],
    no: [{ n: 1 }],
  },
  // --- arrays of primitives
  {
    rule: 'array of primitives: contains all, any order, extras allowed',
    condition: { channels: ['email', 'sms'] },
    yes: [{ channels: ['sms', 'email'] }, { channels: ['push', 'email', 'sms'] }],
    no: [{ channels: ['email'] }, { channels: 'email' }, {}, { channels: [['email', 'sms']] }],
  },
  {
    rule: 'empty array pattern matches any array',
    condition: { list: [] },
    yes: [{ list: [] }, { list: [1] }],
    no: [{ list: {} }, {}, { list: 'x' }],
  },
  {
    rule: 'array of primitives with numbers, booleans, null',
    condition: { a: [1, true, null] },
    yes: [{ a: [null, true, 1, 2] }],
    no: [{ a: [1, true] }, { a: ['1', true, null] }],
  },
  // --- arrays of patterns
  {
    rule: 'array of object patterns: not empty, and every element matches the structure',
    condition: { lines: [{ sku: String, price: Number }] },
    yes: [
      { lines: [{ sku: 'a', price: 1 }] },
      {
        lines: [
          { sku: 'a', price: 1 },
          { sku: 'b', price: 0, qty: 2 },
        ],
      },
    ],
    no: [
      { lines: [] },
      { lines: [{ sku: 'a', price: 1 }, { sku: 'b' }] },
      { lines: [{ sku: 'a', price: 1 }, 'x'] },
      { lines: { sku: 'a', price: 1 } },
      {},
    ],
  },
  {
    rule: 'array of several object patterns: every element matches each of them',
    condition: { items: [{ sku: String }, { qty: { $gt: 10 } }] },
    yes: [
      { items: [{ sku: 'a', qty: 20 }] },
      {
        items: [
          { sku: 'a', qty: 11 },
          { sku: 'b', qty: 12 },
        ],
      },
    ],
    no: [
      { items: [{ sku: 'a', qty: 1 }, { qty: 11 }] },
      {
        items: [
          { sku: 'a', qty: 20 },
          { sku: 'b', qty: 1 },
        ],
      },
      { items: { sku: 'a', qty: 11 } },
      {},
    ],
  },
  {
    rule: '$elemMatch: some element matches',
    condition: { lines: { $elemMatch: { sku: String } } },
    yes: [{ lines: [{ sku: 'a' }, { price: 1 }] }],
    no: [{ lines: [{ price: 1 }] }, { lines: [] }],
  },
  {
    rule: 'array of patterns with type constructors and RegExp elements',
    condition: { tags: [String, /^vip/] },
    yes: [{ tags: [1, 'vip-gold'] }, { tags: ['vip'] }],
    no: [{ tags: [1, 2] }, { tags: ['gold'] }, { tags: 'vip' }],
  },
  {
    rule: 'mixed array: primitives and patterns',
    condition: { a: ['x', { b: 1 }] },
    yes: [{ a: ['x', { b: 1, c: 2 }] }],
    no: [{ a: ['x'] }, { a: [{ b: 1 }] }, { a: ['x', { b: 2 }] }],
  },
  {
    rule: 'nested array pattern',
    condition: { m: [[1, 2]] },
    yes: [{ m: [[2, 1, 3], 'x'] }],
    no: [{ m: [1, 2] }, { m: [[1], [2]] }],
  },
  // --- operators
  {
    rule: '$eq (MongoDB: array traversal)',
    condition: { a: { $eq: 2 } },
    yes: [{ a: 2 }, { a: [1, 2] }],
    no: [{ a: 3 }, {}, { a: '2' }],
  },
  {
    rule: '$ne',
    condition: { a: { $ne: 'x' } },
    yes: [{ a: 'y' }, {}, { a: null }],
    no: [{ a: 'x' }, { a: ['x', 'y'] }],
  },
  {
    rule: '$gt',
    condition: { lead: { profile: { score: { $gt: 70 } } } },
    yes: [{ lead: { profile: { score: 71 } } }],
    no: [{ lead: { profile: { score: 70 } } }, { lead: { profile: { score: '80' } } }, {}],
  },
  {
    rule: '$gte + $lt together',
    condition: { n: { $gte: 1, $lt: 5 } },
    yes: [{ n: 1 }, { n: 4.9 }],
    no: [{ n: 0 }, { n: 5 }, {}, { n: null }],
  },
  {
    rule: '$lte on strings',
    condition: { d: { $lte: '2024-06-01' } },
    yes: [{ d: '2024-01-01' }, { d: '2024-06-01' }],
    no: [{ d: '2024-06-02' }, { d: 20240101 }],
  },
  {
    rule: '$in with values and RegExp',
    condition: { s: { $in: ['a', /^z/] } },
    yes: [{ s: 'a' }, { s: 'zeta' }, { s: ['q', 'a'] }],
    no: [{ s: 'b' }, {}, { s: null }],
  },
  {
    rule: '$nin',
    condition: { s: { $nin: ['a', 'b'] } },
    yes: [{ s: 'c' }, {}],
    no: [{ s: 'a' }, { s: ['c', 'b'] }],
  },
  {
    rule: '$exists true',
    condition: { a: { $exists: true } },
    yes: [{ a: null }, { a: 0 }],
    no: [{}],
  },
  {
    rule: '$exists false',
    condition: { a: { b: { $exists: false } } },
    yes: [{ a: {} }, { a: { c: 1 } }],
    no: [{ a: { b: null } }, {}, { a: 3 }],
  },
  {
    rule: '$regex with $options',
    condition: { s: { $regex: '^ab', $options: 'i' } },
    yes: [{ s: 'ABc' }],
    no: [{ s: 'cab' }, { s: 1 }, {}],
  },
  {
    rule: '$regex with a RegExp',
    condition: { s: { $regex: /c$/ } },
    yes: [{ s: 'abc' }],
    no: [{ s: 'cab' }],
  },
  {
    rule: '$size',
    condition: { a: { $size: 2 } },
    yes: [{ a: [1, 2] }],
    no: [{ a: [1] }, { a: 'ab' }, {}],
  },
  {
    rule: '$all',
    condition: { a: { $all: ['x', /^y/] } },
    yes: [{ a: ['y1', 'x', 'z'] }],
    no: [{ a: ['x'] }, {}],
  },
  {
    rule: '$elemMatch with a sub-pattern',
    condition: { items: { $elemMatch: { sku: /^A/, qty: { $gte: 2 } } } },
    yes: [
      {
        items: [
          { sku: 'B', qty: 5 },
          { sku: 'A1', qty: 2 },
        ],
      },
    ],
    no: [
      {
        items: [
          { sku: 'A1', qty: 1 },
          { sku: 'B', qty: 5 },
        ],
      },
      { items: { sku: 'A1', qty: 2 } },
      {},
    ],
  },
  {
    rule: '$elemMatch with operators applies to each element',
    condition: { scores: { $elemMatch: { $gt: 5, $lt: 10 } } },
    yes: [{ scores: [1, 7, 20] }],
    no: [{ scores: [1, 20] }, { scores: 7 }],
  },
  {
    rule: '$not with operators',
    condition: { n: { $not: { $gt: 5 } } },
    yes: [{ n: 5 }, {}, { n: 'x' }],
    no: [{ n: 6 }],
  },
  {
    rule: '$not with a RegExp',
    condition: { s: { $not: /^tmp/ } },
    yes: [{ s: 'final' }, {}, { s: 3 }],
    no: [{ s: 'tmp-1' }],
  },
  {
    rule: '$type with constructors',
    condition: { a: { $type: Number }, b: { $type: Array } },
    yes: [{ a: 1, b: [] }],
    no: [
      { a: '1', b: [] },
      { a: 1, b: {} },
    ],
  },
  {
    rule: '$type with names, including null',
    condition: { a: { $type: 'null' }, b: { $type: 'object' }, c: { $type: 'boolean' } },
    yes: [{ a: null, b: {}, c: true }],
    no: [
      { b: {}, c: true },
      { a: null, b: [], c: true },
      { a: null, b: {}, c: 'true' },
    ],
  },
  // --- logical operators
  {
    rule: '$or at the root',
    condition: { $or: [{ level: 'gold' }, { points: { $gt: 1000 } }], active: true },
    yes: [
      { level: 'gold', active: true },
      { points: 2000, active: true },
    ],
    no: [{ level: 'gold' }, { level: 'bronze', points: 5, active: true }],
  },
  {
    rule: '$and at the root',
    condition: { $and: [{ a: { $gt: 1 } }, { a: { $lt: 3 } }] },
    yes: [{ a: 2 }],
    no: [{ a: 3 }, {}],
  },
  {
    rule: '$nor at the root',
    condition: { $nor: [{ a: 1 }, { b: 1 }] },
    yes: [{}, { a: 2, b: 2 }],
    no: [{ a: 1 }, { b: 1 }],
  },
  {
    rule: '$or at a nested level (branches relative to that level) mixed with plain keys',
    condition: { deal: { kind: 'wholesale', $or: [{ amount: { $gt: 100 } }, { flagged: true }] } },
    yes: [{ deal: { kind: 'wholesale', amount: 101 } }, { deal: { kind: 'wholesale', flagged: true } }],
    no: [
      { deal: { kind: 'retail', flagged: true } },
      { deal: { kind: 'wholesale', amount: 5 } },
      { amount: 500, deal: { kind: 'wholesale' } },
    ],
  },
  {
    rule: '$or of value patterns at a field',
    condition: { status: { $or: ['new', 'open', { $regex: '^re' }] } },
    yes: [{ status: 'new' }, { status: 'open' }, { status: 'reopened' }],
    no: [{ status: 'closed' }, {}],
  },
  {
    rule: '$or inside $elemMatch',
    condition: { items: { $elemMatch: { $or: [{ a: 1 }, { b: 1 }] } } },
    yes: [{ items: [{ b: 1 }] }],
    no: [{ items: [{ a: 2 }] }],
  },
  // --- data references
  {
    rule: '$data in an operator (length of an array)',
    condition: { phase: 'chunking', batch: { index: { $lt: { $data: 'companies.length' } } } },
    yes: [{ phase: 'chunking', batch: { index: 1 }, companies: ['a', 'b'] }],
    no: [
      { phase: 'chunking', batch: { index: 2 }, companies: ['a', 'b'] },
      { phase: 'chunking', batch: { index: 0 } },
    ],
  },
  {
    rule: '$data as a literal value (deep equality)',
    condition: { shipping: { address: { $data: 'billing.address' } } },
    yes: [{ shipping: { address: { city: 'X', zip: '1' } }, billing: { address: { zip: '1', city: 'X' } } }],
    no: [
      { shipping: { address: { city: 'X' } }, billing: { address: { city: 'Y' } } },
      { shipping: {}, billing: {} },
    ],
  },
  {
    rule: '$data with numeric segments and string length',
    condition: { a: { $data: 'list.1' }, n: { $eq: { $data: 'name.length' } } },
    yes: [{ list: ['x', 'y'], a: 'y', name: 'abc', n: 3 }],
    no: [
      { list: ['x', 'y'], a: 'x', name: 'abc', n: 3 },
      { list: ['x', 'y'], a: 'y', name: 'ab', n: 3 },
    ],
  },
  {
    rule: 'a missing $data reference makes the comparison false (even $ne)',
    condition: { a: { $ne: { $data: 'missing' } } },
    yes: [{ a: 1, missing: 2 }],
    no: [{ a: 1 }, {}],
  },
  {
    rule: '$data inside $in and inside array patterns refers to the task root',
    condition: { s: { $in: [{ $data: 'allowed' }, 'z'] }, rows: [{ owner: { $data: 'me' } }], tags: [{ $data: 'me' }] },
    yes: [{ allowed: 'x', s: 'x', me: 'u1', rows: [{ owner: 'u1' }, { owner: 'u1' }], tags: ['u1'] }],
    no: [
      { allowed: 'x', s: 'y', me: 'u1', rows: [{ owner: 'u1' }], tags: ['u1'] },
      { allowed: 'x', s: 'x', me: 'u1', rows: [{ owner: 'u2' }, { owner: 'u1' }], tags: ['u1'] },
    ],
  },
  {
    rule: '$data inside $elemMatch refers to the task root',
    condition: { items: { $elemMatch: { price: { $gt: { $data: 'threshold' } } } } },
    yes: [{ threshold: 10, items: [{ price: 5 }, { price: 11 }] }],
    no: [{ threshold: 10, items: [{ price: 5 }] }, { items: [{ price: 5 }] }],
  },
  // --- special keys are data
  {
    rule: '$via and $stash are data keys',
    condition: { $via: { channel: 'email' }, $stash: { token: String } },
    yes: [{ $via: { channel: 'email' }, $stash: { token: 'secret' } }],
    no: [{ $via: { channel: 'sms' }, $stash: { token: 'secret' } }],
  },
];

describe('pattern rules', () => {
  for (const c of RULES) {
    describe(c.rule, () => {
      c.yes.forEach((data, i) => {
        it(`matches yes[${i}] ${JSON.stringify(data)}`, () => expect(matches(c.condition, data)).toBe(true));
      });
      c.no.forEach((data, i) => {
        it(`does not match no[${i}] ${JSON.stringify(data)}`, () => expect(matches(c.condition, data)).toBe(false));
      });
    });
  }

  it('RegExp with g and y flags is stateless', () => {
    const m = createMatcher(compileCondition({ s: /a/g, t: /b/y, u: { $regex: /c/g }, v: { $in: [/d/g] } }));
    const data = { s: 'xa', t: 'b', u: 'c', v: 'd' };
    for (let i = 0; i < 5; i++) expect(m(data)).toBe(true);
    expect(m({ s: 'xa', t: 'ab', u: 'c', v: 'd' })).toBe(false); // sticky: anchored at 0
  });

  it('a matcher does not mutate the data and is repeatable', () => {
    const data = deepFreeze({ a: { b: [1, { c: 'x' }] }, n: 2, list: [1, 2, 3] }) as JsonObject;
    const m = createMatcher(compileCondition({ a: { b: [{ c: /x/ }, 1] }, n: { $lt: { $data: 'list.length' } } }));
    expect([m(data), m(data), m(data)]).toEqual([true, true, true]);
  });

  it('$data references re-resolve on every evaluation', () => {
    const m = createMatcher(compileCondition({ i: { $lt: { $data: 'xs.length' } } }));
    expect(m({ i: 1, xs: [1, 2] })).toBe(true);
    expect(m({ i: 2, xs: [1, 2] })).toBe(false);
    expect(m({ i: 2, xs: [1, 2, 3] })).toBe(true);
    expect(m({ i: 2, xs: 'ab' })).toBe(false);
    expect(m({ i: 2, xs: {} })).toBe(false);
  });

  it('accepts type constructors and plain objects from another realm', () => {
    const foreign = vm.runInNewContext('({ a: String, b: { c: Number }, d: [Object] })') as unknown;
    const m = createMatcher(compileCondition(foreign));
    expect(m({ a: 'x', b: { c: 1 }, d: [{}] })).toBe(true);
    expect(m({ a: 1, b: { c: 1 }, d: [{}] })).toBe(false);
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

describe('compiled form', () => {
  it('is plain JSON: leaves are $wf operations, RegExps are encoded', () => {
    const compiled = compileCondition({ order: { status: 'new', ref: /^A/i } });
    expect(compiled.query).toEqual({
      $and: [
        { $wf: { path: ['order', 'status'], test: 'eq', arg: 'new' } },
        { $wf: { path: ['order', 'ref'], test: 'regexp', arg: { source: '^A', flags: 'i' } } },
      ],
    });
    expect(JSON.parse(JSON.stringify(compiled))).toEqual(compiled);
  });

  it('an empty condition compiles to {}', () => {
    expect(compileCondition({})).toEqual({ query: {}, specificity: 0, constraints: [] });
  });

  it('groups carry their level in $at', () => {
    const compiled = compileCondition({ a: { $or: [{ b: 1 }, { c: 2 }] } });
    expect(compiled.query).toEqual({
      $and: [
        {
          $or: [
            { $and: [{ $wf: { path: ['a', 'b'], test: 'eq', arg: 1 } }] },
            { $and: [{ $wf: { path: ['a', 'c'], test: 'eq', arg: 2 } }] },
          ],
          $at: ['a'],
        },
      ],
    });
  });

  it('$in arguments keep RegExps and references encoded', () => {
    const compiled = compileCondition({ s: { $in: [/x/i, { $data: 'y' }, 3] } });
    expect(compiled.query).toEqual({
      $and: [{ $wf: { path: ['s'], test: 'mongo', arg: { $in: [{ $re: { source: 'x', flags: 'i' } }, { $data: 'y' }, 3] } } }],
    });
  });

  it('a compiled condition survives a JSON round trip for every rule', () => {
    for (const c of RULES) {
      const compiled = compileCondition(c.condition);
      const copy = JSON.parse(JSON.stringify(compiled)) as CompiledCondition;
      const a = createMatcher(compiled);
      const b = createMatcher(copy);
      for (const data of [...c.yes, ...c.no]) expect(b(data)).toBe(a(data));
    }
  });
});

describe('specificity', () => {
  const cases: Array<[string, unknown, number]> = [
    ['empty', {}, 0],
    ['one literal', { a: 1 }, 1],
    ['nested literals', { invoice: { state: 'draft', buyer: { name: String, credit: Number } } }, 3],
    ['null, RegExp, type', { a: null, b: /x/, c: Boolean }, 3],
    ['array of primitives: one per element', { channels: ['email', 'sms'] }, 2],
    ['array of patterns: one per element pattern', { items: [{ sku: String, qty: Number }] }, 1],
    ['empty array pattern', { list: [] }, 1],
    ['each operator counts', { n: { $gte: 1, $lt: 5 } }, 2],
    ['$regex with $options counts once', { s: { $regex: 'a', $options: 'i' } }, 1],
    ['$and counts its parts', { $and: [{ a: 1 }, { b: { $gt: 2, $lt: 9 } }] }, 3],
    ['$or counts 1', { $or: [{ a: 1 }, { b: 2, c: 3 }] }, 1],
    ['$nor counts 1', { $nor: [{ a: 1 }, { b: 2 }] }, 1],
    ['$not counts 1', { a: { $not: { $gt: 1, $lt: 3 } } }, 1],
    ['$elemMatch counts 1', { a: { $elemMatch: { b: 1, c: 2 } } }, 1],
    ['mixed', { a: 1, $or: [{ b: 1 }, { c: 1 }], d: { $exists: true, $ne: 3 } }, 4],
    ['duplicate constraints count once', { $and: [{ a: 1 }, { a: 1 }] }, 1],
  ];
  it.each(cases)('%s', (_name, condition, expected) => {
    const compiled = compileCondition(condition);
    expect(compiled.specificity).toBe(expected);
    expect(compiled.constraints).toHaveLength(expected);
  });
});

describe('constraints', () => {
  const constraints = (condition: unknown) => compileCondition(condition).constraints;
  const isSubset = (a: string[], b: string[]) => a.every((x) => b.includes(x));

  it('are sorted, unique canonical strings', () => {
    const list = constraints({ b: 2, a: 1, $and: [{ a: 1 }] });
    expect(list).toEqual([...list].sort());
    expect(new Set(list).size).toBe(list.length);
    expect(list).toEqual(['{"arg":1,"path":["a"],"test":"eq"}', '{"arg":2,"path":["b"],"test":"eq"}']);
  });

  it('4-field ⊃ 2-field ⊃ 1-field', () => {
    const four = constraints({ a: 1, b: 2, c: 3, d: 4 });
    const two = constraints({ a: 1, b: 2 });
    const one = constraints({ a: 1 });
    expect(isSubset(one, two) && isSubset(two, four)).toBe(true);
    expect(isSubset(four, two)).toBe(false);
    expect(isSubset(two, one)).toBe(false);
  });

  it('nested subsets: same leaf in the same place gives the same string', () => {
    const general = constraints({ member: { active: true } });
    const specific = constraints({ member: { level: 'gold', active: true } });
    expect(isSubset(general, specific)).toBe(true);
    expect(isSubset(constraints({ order: { status: 'new' } }), constraints({ status: 'new' }))).toBe(false);
  });

  it('array elements are separate constraints (contains more ⊃ contains less)', () => {
    expect(isSubset(constraints({ c: ['email'] }), constraints({ c: ['sms', 'email'] }))).toBe(true);
  });

  it('do not depend on key order, $or branch order or sub-pattern key order', () => {
    expect(constraints({ a: 1, b: { c: 2, d: 3 } })).toEqual(constraints({ b: { d: 3, c: 2 }, a: 1 }));
    expect(constraints({ $or: [{ a: 1 }, { b: 2 }] })).toEqual(constraints({ $or: [{ b: 2 }, { a: 1 }] }));
    expect(constraints({ items: [{ x: 1, y: 2 }] })).toEqual(constraints({ items: [{ y: 2, x: 1 }] }));
    expect(constraints({ s: { $regex: /a/i } })).toEqual(constraints({ s: { $regex: 'a', $options: 'i' } }));
  });

  it('equivalent spellings share a constraint', () => {
    expect(constraints({ a: String })).toEqual(constraints({ a: { $type: 'string' } }));
    // An object pattern in a list constrains every element; $elemMatch only some: two constraints.
    expect(constraints({ a: [{ b: 1 }] })).not.toEqual(constraints({ a: { $elemMatch: { b: 1 } } }));
    expect(constraints({ a: [] })).toEqual(constraints({ a: Array }));
    expect(constraints({ $and: [{ a: 1 }, { b: 2 }] })).toEqual(constraints({ a: 1, b: 2 }));
  });

  it('a $or group is one constraint for the whole group', () => {
    const list = constraints({ x: 1, $or: [{ a: 1 }, { b: { $gt: 2 } }] });
    expect(list).toHaveLength(2);
    expect(list.some((s) => s.includes('"test":"$or"'))).toBe(true);
  });
});

describe('errors', () => {
  function problemsOf(condition: unknown) {
    try {
      compileCondition(condition);
    } catch (error) {
      expect(error).toBeInstanceOf(ConditionError);
      return (error as ConditionError).problems;
    }
    throw new Error('expected a ConditionError');
  }

  const cases: Array<[string, unknown, string, RegExp]> = [
    [
      'a function',
      { batch: { index: { $lt: () => 3 } } },
      'batch.index.$lt',
      /cannot compute values; to compare with another field write \{ \$data: "path\.to\.field" \}/,
    ],
    [
      'a function as pattern',
      {
        a: {
          b: function compute() {
            return 1;
          },
        },
      },
      'a.b',
      /cannot compute values/,
    ],
    ['a non-type native function', { a: Date }, 'a', /cannot compute values/],
    ['an unknown operator', { a: { $foo: 1 } }, 'a.$foo', /unknown operator \$foo/],
    ['$mod is not supported', { a: { $mod: [2, 0] } }, 'a.$mod', /unknown operator \$mod/],
    ['$in not an array', { a: { $in: 'x' } }, 'a.$in', /\$in needs an array/],
    ['$nin not an array', { a: { $nin: 1 } }, 'a.$nin', /\$nin needs an array/],
    ['$all not an array', { a: { $all: {} } }, 'a.$all', /\$all needs an array/],
    ['$size negative', { a: { $size: -1 } }, 'a.$size', /non-negative integer/],
    ['$size not integer', { a: { $size: 1.5 } }, 'a.$size', /non-negative integer/],
    ['$exists not boolean', { a: { $exists: 1 } }, 'a.$exists', /true or false/],
    ['$and empty', { $and: [] }, '$and', /non-empty array/],
    ['$or not an array', { a: { $or: { b: 1 } } }, 'a.$or', /non-empty array/],
    ['$nor empty', { a: { $nor: [] } }, 'a.$nor', /non-empty array/],
    ['$regex not string/RegExp', { a: { $regex: 5 } }, 'a.$regex', /string or a RegExp/],
    ['$regex invalid', { a: { $regex: '(' } }, 'a.$regex', /invalid regular expression/],
    ['$options bad flags', { a: { $regex: 'x', $options: 'gx' } }, 'a.$options', /regex flags/],
    ['$options alone', { a: { $options: 'i' } }, 'a.$options', /needs a \$regex/],
    ['$data not a string', { a: { $gt: { $data: 5 } } }, 'a.$gt.$data', /\$data needs a string/],
    ['$data bad path', { a: { $data: 'x..y' } }, 'a.$data', /not a dot path/],
    ['$data with other keys', { a: { $data: 'x', b: 1 } }, 'a', /no other keys/],
    ['$elemMatch not an object', { a: { $elemMatch: 3 } }, 'a.$elemMatch', /\$elemMatch needs an object/],
    ['$not with a literal', { a: { $not: 5 } }, 'a.$not', /\$not needs a RegExp or an object of operators/],
    ['$not with fields', { a: { $not: { b: 1 } } }, 'a.$not', /\$not needs/],
    ['$gt with an object', { a: { $gt: { x: 1 } } }, 'a.$gt', /number, a string or a \{ \$data/],
    ['$type unknown', { a: { $type: 'date' } }, 'a.$type', /\$type needs/],
    ['type check used as a value', { a: { $in: [String] } }, 'a.$in[0]', /type check, not a value/],
    ['$ keys inside a literal', { a: { $eq: { $gt: 1 } } }, 'a.$eq.$gt', /cannot hold \$ keys/],
    ['mixing operators and fields', { a: { $gt: 1, b: 2 } }, 'a', /mixes operators \(\$gt\) with field names \(b\)/],
    ['operators at the root', { $gt: 1 }, '', /must be under a field name/],
    ['a symbol', { a: Symbol('s') }, 'a', /Symbol/],
    ['a symbol key', { a: { [Symbol('k')]: 1 } }, 'a', /symbol keys/],
    ['a BigInt', { a: 10n }, 'a', /BigInt/],
    ['a Date', { at: new Date(0) }, 'at', /Date object is not allowed.*ISO string/],
    ['a class instance', { a: new (class Money {})() }, 'a', /instance of Money/],
    ['a Map', { a: new Map() }, 'a', /instance of Map/],
    ['NaN', { a: NaN }, 'a', /NaN is not allowed/],
    ['Infinity in an operator', { a: { $lt: Infinity } }, 'a.$lt', /Infinity is not allowed: numbers must be finite/],
    ['a Date in an operator', { a: { $gte: new Date(0) } }, 'a.$gte', /Date object is not allowed/],
    ['undefined', { a: undefined }, 'a', /undefined is not allowed/],
    // biome-ignore lint/suspicious/noSparseArray: a hole is what this case refuses
    ['a sparse array', { a: [1, , 3] }, 'a[1]', /empty array slot/],
    ['a non-object root', 'new', '', /must be a plain object/],
    ['an array root', [{ a: 1 }], '', /must be a plain object/],
    ['a null root', null, '', /must be a plain object/],
    ['a non-object $or branch at the root', { $or: ['x'] }, '$or[0]', /must be a plain object/],
    ['keys needing brackets', { 'a.b': { 'c d': () => 1 } }, '["a.b"]["c d"]', /cannot compute/],
  ];

  it.each(cases)('rejects %s', (_name, condition, path, message) => {
    const problems = problemsOf(condition);
    const problem = problems.find((p) => p.path === path && message.test(p.message));
    expect(problem, JSON.stringify(problems)).toBeDefined();
  });

  it('rejects cycles', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    const problems = problemsOf({ a });
    expect(problems).toContainEqual({ path: 'a.self', message: expect.stringMatching(/cycle/) });
    const list: unknown[] = [];
    list.push(list);
    expect(problemsOf({ l: { $in: list } })).toContainEqual({ path: 'l.$in[0]', message: expect.stringMatching(/cycle/) });
  });

  it('accepts a shared (non-cyclic) sub-object used twice', () => {
    const shared = { status: 'ok' };
    expect(compileCondition({ a: shared, b: shared }).specificity).toBe(2);
  });

  it('reports all problems together, each with its key path', () => {
    let error: unknown;
    try {
      compileCondition({
        order: { total: { $gt: () => 10 }, items: { $in: 'x' } },
        $or: [{ a: { $foo: 1 } }],
        when: new Date(0),
        tags: [Symbol('t')],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConditionError);
    const problems = (error as ConditionError).problems;
    expect(problems.map((p) => p.path)).toEqual(['order.total.$gt', 'order.items.$in', '$or[0].a.$foo', 'when', 'tags[0]']);
    const message = (error as Error).message;
    for (const p of problems) expect(message).toContain(`${p.path}: ${p.message}`);
    expect(message).toContain('{ $data: "path.to.field" }');
  });
});

describe('explainMismatch', () => {
  const explain = (condition: unknown, data: JsonObject) => explainMismatch(compileCondition(condition), data);

  it('returns null when the condition matches', () => {
    expect(explain({ a: 1 }, { a: 1 })).toBeNull();
    expect(explain({}, {})).toBeNull();
  });

  it('reports the first failing leaf in condition order', () => {
    expect(explain({ order: { status: 'new', total: Number } }, { order: { status: 'paid', total: 'x' } })).toEqual({
      path: 'order.status',
      expected: '"new"',
      actual: 'paid',
    });
    expect(explain({ order: { status: 'new', total: Number } }, { order: { status: 'new' } })).toEqual({
      path: 'order.total',
      expected: 'a Number',
      actual: undefined,
    });
  });

  it('describes each kind of leaf', () => {
    const cases: Array<[unknown, JsonObject, string, string]> = [
      [{ a: null }, { a: 1 }, 'a', 'null or missing'],
      [{ a: /^x/i }, { a: 'y' }, 'a', 'a string matching /^x/i'],
      [{ a: Array }, { a: {} }, 'a', 'an Array'],
      [{ a: Object }, { a: [] }, 'a', 'an Object'],
      [{ a: ['x'] }, { a: ['y'] }, 'a', 'an array containing "x"'],
      [{ a: [{ sku: String }] }, { a: [{}] }, 'a', 'a non-empty array whose every element matches sku: a String'],
      [{ a: { $gt: 5 } }, { a: 1 }, 'a', '$gt 5'],
      [{ a: { $in: ['x', /y/] } }, { a: 'z' }, 'a', '$in ["x", /y/]'],
      [{ a: { $regex: 'q', $options: 'i' } }, { a: 'z' }, 'a', '$regex /q/i'],
      [{ a: { $not: { $gt: 1 } } }, { a: 2 }, 'a', 'not $gt 1'],
      [{ a: { $elemMatch: { b: 1, c: 2 } } }, { a: [] }, 'a', 'an array with an element matching { b: 1, c: 2 }'],
      [{ a: { $data: 'b' } }, { a: 1, b: 2 }, 'a', '{ $data: "b" }'],
      [{ a: { $or: [{ b: 1 }, { c: { $exists: true } }] } }, { a: {} }, 'a', '$or [ a.b: 1 | a.c: $exists true ]'],
      [{ $nor: [{ x: 1 }] }, { x: 1 }, '', '$nor [ x: 1 ]'],
    ];
    for (const [condition, data, path, expected] of cases) {
      const mismatch = explain(condition, data);
      expect(mismatch, JSON.stringify(data)).not.toBeNull();
      expect(mismatch?.path).toBe(path);
      expect(mismatch?.expected).toBe(expected);
    }
  });

  it('reports the actual value found', () => {
    expect(explain({ batch: { index: { $lt: { $data: 'companies.length' } } } }, { batch: { index: 3 }, companies: [] })).toEqual({
      path: 'batch.index',
      expected: '$lt { $data: "companies.length" }',
      actual: 3,
    });
    expect(explain({ a: { $or: [{ b: 1 }] } }, { a: { b: 2 } })?.actual).toEqual({ b: 2 });
  });
});
