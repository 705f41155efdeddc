/**
 * Leaf tests: one small unit per kind of leaf constraint, keyed by the `test` name that appears in
 * compiled queries (`{ $wf: { path, test, arg } }`). The compiler decides which test a pattern
 * becomes; these functions only evaluate a value. Each `build` runs once per matcher (RegExps and
 * sift sub-testers are prepared there), the returned tester runs on every evaluation.
 * Deterministic and side-effect free: runs inside the Temporal workflow sandbox.
 */
import sift from 'sift';
import { jsonEqual, type JsonObject, type JsonValue } from '../model/json';
import { sealedType } from '../model/sealed';
import { compileTemplate, formatRegExp, formatValue, regExpTester, type EncodedRegExp } from './values';

/** Tests the value found at the leaf's path; `root` is the task data (for `$data` references). */
export type LeafTester = (value: unknown, root: unknown) => boolean;
/** A compiled sub-query applied to a subject (an array element, or the value under `$not`). */
export type SubTester = (subject: unknown, root: unknown) => boolean;

export interface LeafEnv {
  /** Builds a tester for a sub-query (compiled pattern relative to a subject value). */
  subQuery(query: JsonObject): SubTester;
  /** Readable description of a sub-query, for mismatch explanations. */
  describeQuery(query: JsonObject): string;
}

export interface LeafTest {
  build(arg: JsonValue, env: LeafEnv): LeafTester;
  describe(arg: JsonValue, env: LeafEnv): string;
}

/** Type names of the type rule (`String` … `Object` patterns, `$type`). */
export const TYPE_CHECKS = {
  string: (v: unknown) => typeof v === 'string',
  number: (v: unknown) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v: unknown) => typeof v === 'boolean',
  array: (v: unknown) => Array.isArray(v),
  object: (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v),
  null: (v: unknown) => v === null,
} satisfies Record<string, (v: unknown) => boolean>;
export type TypeName = keyof typeof TYPE_CHECKS;

const TYPE_LABELS: Record<TypeName, string> = {
  string: 'a String',
  number: 'a Number',
  boolean: 'a Boolean',
  array: 'an Array',
  object: 'an Object',
  null: 'null',
};

export function isTypeName(name: unknown): name is TypeName {
  return typeof name === 'string' && Object.hasOwn(TYPE_CHECKS, name);
}

/** Equality with a literal or a `$data` reference (a missing reference never equals). */
function valueTester(arg: JsonValue, compare: (actual: unknown, expected: unknown) => boolean): LeafTester {
  const template = compileTemplate(arg);
  if (template.refs.length === 0) {
    const expected = template.instantiate([]);
    return (value) => compare(value, expected);
  }
  return (value, root) => {
    const values = template.resolveRefs(root);
    return values !== null && compare(value, template.instantiate(values));
  };
}

function equalsValue(actual: unknown, expected: unknown): boolean {
  return actual === expected || jsonEqual(actual, expected);
}

function containsValue(actual: unknown, expected: unknown): boolean {
  if (!Array.isArray(actual)) return false;
  for (let i = 0; i < actual.length; i++) if (equalsValue(actual[i], expected)) return true;
  return false;
}

/** Operators whose argument must be a number or a string for the comparison to mean anything. */
const ORDERED = new Set(['$gt', '$gte', '$lt', '$lte']);

type SiftTester = (item: unknown) => boolean;
const createSift = sift as unknown as (query: unknown, options: { operations: Record<string, () => never> }) => SiftTester;
/** sift with its MongoDB operators, minus `$where` (never compiled; it would evaluate code). */
const siftTester = (query: unknown): SiftTester =>
  createSift(query, {
    operations: {
      $where: () => {
        throw new Error('whenflow: $where is not allowed in a compiled condition');
      },
    },
  });

/**
 * `$regex` runs on the linear-time engine, not through sift's `new RegExp`: sift's `$eq` with a tester
 * function is the very operation its `$regex` builds (an array value matches when an element does).
 */
function linearRegexQuery(query: JsonObject): JsonObject | { $eq: (value: unknown) => boolean } {
  if (typeof query.$regex !== 'string') return query;
  const flags = typeof query.$options === 'string' ? query.$options : '';
  return { $eq: regExpTester({ source: query.$regex, flags }) };
}

/**
 * One MongoDB operator (`$gt`, `$in`, `$regex`+`$options`, …) evaluated by sift against a one-key
 * wrapper `{ v: value }` (no `v` when the value is missing, so `$exists` and `$ne` behave).
 * With `$data` references the sift tester is rebuilt only when a referenced value changes.
 */
function mongoTester(arg: JsonValue): LeafTester {
  const template = compileTemplate(arg);
  const operator = Object.keys(arg as JsonObject)[0] ?? '';
  const wrap =
    (tester: SiftTester): LeafTester =>
    (value) =>
      tester(value === undefined ? {} : { v: value });
  if (template.refs.length === 0) return wrap(siftTester({ v: linearRegexQuery(template.instantiate([]) as JsonObject) }));

  let lastValues: unknown[] | null = null;
  let lastTester: LeafTester = () => false;
  return (value, root) => {
    const values = template.resolveRefs(root);
    if (values === null) return false;
    if (lastValues === null || !sameValues(lastValues, values)) {
      const query = template.instantiate(values) as Record<string, unknown>;
      const operand = query[operator];
      lastTester =
        ORDERED.has(operator) && typeof operand !== 'number' && typeof operand !== 'string' ? () => false : wrap(siftTester({ v: query }));
      lastValues = values;
    }
    return lastTester(value, root);
  };
}

function sameValues(a: readonly unknown[], b: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeMongo(arg: JsonValue): string {
  const query = arg as JsonObject;
  if (typeof query.$regex === 'string') {
    const flags = typeof query.$options === 'string' ? query.$options : '';
    return `$regex ${formatRegExp({ source: query.$regex, flags })}`;
  }
  return Object.entries(query)
    .map(([op, operand]) => `${op} ${formatValue(operand)}`)
    .join(', ');
}

export const LEAF_TESTS = {
  /** Pattern literal or `$data` reference: deep JSON equality, no array traversal. */
  eq: {
    build: (arg) => valueTester(arg, equalsValue),
    describe: (arg) => formatValue(arg),
  },
  /** `String` `Number` `Boolean` `Array` `Object` patterns and `$type`. */
  type: {
    build: (arg) => {
      if (!isTypeName(arg)) throw new Error(`whenflow: unknown type ${JSON.stringify(arg)} in compiled condition`);
      const check = TYPE_CHECKS[arg];
      // A sealed `$stash` secret is matched by the type of its plaintext, which its label carries.
      return (value) => {
        const sealed = sealedType(value);
        return sealed === null ? check(value) : sealed === arg;
      };
    },
    describe: (arg) => (isTypeName(arg) ? TYPE_LABELS[arg] : String(arg)),
  },
  /** `null` pattern: null or missing. */
  absent: {
    build: () => (value) => value === null || value === undefined,
    describe: () => 'null or missing',
  },
  /** RegExp pattern: a string that matches. Arg: `{ source, flags }`. */
  regexp: {
    build: (arg) => regExpTester(arg as unknown as EncodedRegExp),
    describe: (arg) => `a string matching ${formatRegExp(arg as unknown as EncodedRegExp)}`,
  },
  /** Primitive element of an array pattern: the value is an array holding that element. */
  has: {
    build: (arg) => valueTester(arg, containsValue),
    describe: (arg) => `an array containing ${formatValue(arg)}`,
  },
  /** `$elemMatch` (and object array patterns compiled before `every`): some element matches the sub-query. */
  some: {
    build: (arg, env) => {
      const sub = env.subQuery(arg as JsonObject);
      return (value, root) => {
        if (!Array.isArray(value)) return false;
        for (let i = 0; i < value.length; i++) if (sub(value[i], root)) return true;
        return false;
      };
    },
    describe: (arg, env) => `an array with an element matching ${env.describeQuery(arg as JsonObject)}`,
  },
  /**
   * Object element of an array pattern (`[{ sku: String }]`): the array is not empty and every element
   * matches the sub-query. Conditions compiled before this rule recorded `some`, which stays for replay.
   */
  every: {
    build: (arg, env) => {
      const sub = env.subQuery(arg as JsonObject);
      return (value, root) => {
        if (!Array.isArray(value) || value.length === 0) return false;
        for (let i = 0; i < value.length; i++) if (!sub(value[i], root)) return false;
        return true;
      };
    },
    describe: (arg, env) => `a non-empty array whose every element matches ${env.describeQuery(arg as JsonObject)}`,
  },
  /** `$not`: the sub-query (operators or RegExp applied to the same value) does not match. */
  not: {
    build: (arg, env) => {
      const sub = env.subQuery(arg as JsonObject);
      return (value, root) => !sub(value, root);
    },
    describe: (arg, env) => `not ${env.describeQuery(arg as JsonObject)}`,
  },
  /** One MongoDB operator, evaluated by sift. Arg: `{ $op: operand }` (`$regex` may carry `$options`). */
  mongo: {
    build: (arg) => mongoTester(arg),
    describe: (arg) => describeMongo(arg),
  },
} satisfies Record<string, LeafTest>;

export type LeafTestName = keyof typeof LEAF_TESTS;

export function isLeafTestName(name: unknown): name is LeafTestName {
  return typeof name === 'string' && Object.hasOwn(LEAF_TESTS, name);
}
