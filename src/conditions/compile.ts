/**
 * The condition compiler: a step's `condition` (a JS pattern over task data) → a plain-JSON sift
 * query plus its specificity and canonical constraints (docs/semantics.md "Conditions").
 *
 * Structure, like sift itself: a table of pattern rules (literal, null, type, RegExp, reference,
 * array, object) and a table of operators; each entry turns one piece of the pattern into leaf
 * constraints. A leaf becomes `{ $wf: { path, test, arg } }`, evaluated by leaf-tests.ts; `$or` /
 * `$nor` become sift groups over sub-queries; `$and` is flattened into its parts. Every problem is
 * collected with its key path inside the condition and reported together in one ConditionError.
 */
import { canonicalJson, formatJsonPath, parseDotPath, type JsonObject, type JsonValue } from '../model/json';
import { isTypeName, type LeafTestName, type TypeName } from './leaf-tests';
import { ConditionError, LEAF_OPERATION, LEVEL_OPERATION, type CompiledCondition, type CompiledLeaf, type ConditionProblem } from './types';
import { unsupportedRegExpConstruct } from './safe-regexp';
import { DATA_TAG, encodeRegExp } from './values';

// ---------------------------------------------------------------------------------------------
// Intermediate form

interface LeafNode {
  kind: 'leaf';
  path: string[];
  test: LeafTestName;
  arg: JsonValue;
  /** Canonical value of this constraint (sub-queries replaced by their sorted constraints). */
  canon: JsonValue;
}

interface GroupNode {
  kind: 'group';
  op: '$or' | '$nor';
  path: string[];
  branches: Node[][];
  canon: JsonValue;
}

type Node = LeafNode | GroupNode;

type KeyPath = (string | number)[];

/** Where a piece of pattern sits: its data path, its key path in the condition, and its subject. */
interface At {
  /** Path from the subject to the value this piece constrains. */
  path: string[];
  /** Key path inside the condition (for error messages). */
  where: KeyPath;
  /** `task`: paths start at the task data; `value`: at an array element or the value under `$not`. */
  subject: 'task' | 'value';
}

const isTaskRoot = (at: At) => at.subject === 'task' && at.path.length === 0;

/** `$` keys that are task data, not operators (docs/semantics.md "Conditions"). */
const DATA_KEYS = new Set(['$via', '$stash']);
const isOperatorKey = (key: string) => key.startsWith('$') && !DATA_KEYS.has(key);

class Problems {
  readonly list: ConditionProblem[] = [];
  /** Objects and arrays being visited (cycle detection). */
  readonly ancestors = new Set<object>();
  add(where: KeyPath, message: string): [] {
    this.list.push({ path: formatJsonPath(where), message });
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Canonical strings

/** Sorted, de-duplicated canonical values of a list of nodes (order-insensitive conjunction). */
function canonSet(nodes: Node[]): JsonValue[] {
  const byString = new Map<string, JsonValue>();
  for (const node of nodes) byString.set(canonicalJson(node.canon), node.canon);
  return [...byString.keys()].sort().map((k) => byString.get(k) as JsonValue);
}

function uniqueNodes(nodes: Node[]): Node[] {
  const seen = new Set<string>();
  return nodes.filter((node) => {
    const key = canonicalJson(node.canon);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Node builders and the query they compile to

function leaf(at: At, test: LeafTestName, arg: JsonValue, canonArg: JsonValue = arg): LeafNode {
  return { kind: 'leaf', path: at.path, test, arg, canon: { path: at.path, test, arg: canonArg } };
}

/** A leaf whose argument is a sub-query over a subject (array element, value under `$not`). */
function subLeaf(at: At, test: 'some' | 'every' | 'not', sub: Node[]): LeafNode {
  return leaf(at, test, toQuery(sub), canonSet(sub));
}

function group(at: At, op: '$or' | '$nor', branches: Node[][]): GroupNode {
  const branchCanons = new Map<string, JsonValue>();
  for (const branch of branches) {
    const canon = canonSet(branch);
    branchCanons.set(canonicalJson(canon), canon);
  }
  const arg = [...branchCanons.keys()].sort().map((k) => branchCanons.get(k) as JsonValue);
  return { kind: 'group', op, path: at.path, branches, canon: { path: at.path, test: op, arg } };
}

function nodeQuery(node: Node): JsonObject {
  if (node.kind === 'leaf') {
    const params: CompiledLeaf = { path: node.path, test: node.test, arg: node.arg };
    return { [LEAF_OPERATION]: params };
  }
  return { [node.op]: node.branches.map(toQuery), [LEVEL_OPERATION]: node.path };
}

function toQuery(nodes: Node[]): JsonObject {
  const unique = uniqueNodes(nodes);
  return unique.length === 0 ? {} : { $and: unique.map(nodeQuery) };
}

// ---------------------------------------------------------------------------------------------
// Value classification

const TYPE_CONSTRUCTORS = new Map<unknown, TypeName>([
  [String, 'string'],
  [Number, 'number'],
  [Boolean, 'boolean'],
  [Array, 'array'],
  [Object, 'object'],
]);
const TYPE_CONSTRUCTOR_NAMES: Record<string, TypeName> = {
  String: 'string',
  Number: 'number',
  Boolean: 'boolean',
  Array: 'array',
  Object: 'object',
};

/** `String` … `Object`, also when the step module was evaluated in another realm. */
function typeConstructorName(value: unknown): TypeName | null {
  const known = TYPE_CONSTRUCTORS.get(value);
  if (known) return known;
  if (typeof value !== 'function') return null;
  const name = Object.hasOwn(TYPE_CONSTRUCTOR_NAMES, value.name) ? TYPE_CONSTRUCTOR_NAMES[value.name] : undefined;
  return name && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(value)) ? name : null;
}

const tagOf = (value: unknown) => Object.prototype.toString.call(value);
const isRegExp = (value: unknown): value is RegExp => tagOf(value) === '[object RegExp]';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

const isReferenceObject = (value: unknown): value is Record<string, unknown> => isPlainObject(value) && Object.hasOwn(value, DATA_TAG);

type Primitive = string | number | boolean | null;
const isPrimitive = (value: unknown): value is Primitive =>
  value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));

export const FUNCTION_MESSAGE = 'a condition cannot compute values; to compare with another field write { $data: "path.to.field" }';

/** Why a value can never appear in a condition (null when it is a kind conditions accept). */
function invalidValueMessage(value: unknown): string | null {
  switch (typeof value) {
    case 'function':
      return `a function (${value.name || 'anonymous'}) is not allowed: ${FUNCTION_MESSAGE} (the only functions allowed are the type checks String, Number, Boolean, Array, Object)`;
    case 'symbol':
      return 'a Symbol is not allowed: conditions hold JSON values, RegExps and type checks';
    case 'bigint':
      return 'a BigInt is not allowed: task data is JSON, use a Number';
    case 'undefined':
      return 'undefined is not allowed: use null (null or missing) or { $exists: false }';
    case 'number':
      return Number.isFinite(value) ? null : `${String(value)} is not allowed: numbers must be finite`;
    case 'object': {
      if (value === null || Array.isArray(value) || isPlainObject(value) || isRegExp(value)) return null;
      if (tagOf(value) === '[object Date]') {
        return 'a Date object is not allowed: task data holds dates as ISO strings, compare with a string (e.g. { $gte: "2024-01-01" })';
      }
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return `an instance of ${typeof name === 'string' && name ? name : 'a class'} is not allowed: use plain objects, arrays, JSON values, RegExps or type checks`;
    }
    default:
      return null;
  }
}

/** Runs `visit` with cycle detection for objects and arrays. */
function visit<T>(value: unknown, where: KeyPath, problems: Problems, fallback: T, body: () => T): T {
  if (typeof value !== 'object' || value === null) return body();
  if (problems.ancestors.has(value)) {
    problems.add(where, 'cycle: this value contains itself');
    return fallback;
  }
  problems.ancestors.add(value);
  try {
    return body();
  } finally {
    problems.ancestors.delete(value);
  }
}

function checkSymbolKeys(obj: object, where: KeyPath, problems: Problems): void {
  if (Object.getOwnPropertySymbols(obj).length > 0) problems.add(where, 'symbol keys are not allowed');
}

/** Conditions run regular expressions on a linear-time engine: a pattern it cannot run is a problem. */
function linearTimeRegExp(source: string, flags: string, where: KeyPath, problems: Problems): boolean {
  const unsupported = unsupportedRegExpConstruct(source, flags);
  if (unsupported === null) return true;
  problems.add(where, unsupported);
  return false;
}

// ---------------------------------------------------------------------------------------------
// `$data` references

function reference(value: Record<string, unknown>, where: KeyPath, problems: Problems): JsonObject {
  const others = Object.keys(value).filter((k) => k !== DATA_TAG);
  if (others.length > 0) problems.add(where, `a { $data } reference takes no other keys (found ${others.join(', ')})`);
  checkSymbolKeys(value, where, problems);
  const path = value[DATA_TAG];
  if (typeof path !== 'string') {
    problems.add([...where, DATA_TAG], '$data needs a string: a dot path into the task data, e.g. "companies.length"');
    return { [DATA_TAG]: '' };
  }
  if (parseDotPath(path) === null) {
    problems.add([...where, DATA_TAG], `$data path ${JSON.stringify(path)} is not a dot path (e.g. "order.items.0.sku")`);
  }
  return { [DATA_TAG]: path };
}

// ---------------------------------------------------------------------------------------------
// Pattern rules: one unit per rule, tried in order

interface PatternRule {
  name: string;
  applies(value: unknown): boolean;
  compile(value: unknown, at: At, problems: Problems): Node[];
}

const PATTERN_RULES: PatternRule[] = [
  {
    name: 'null',
    applies: (value) => value === null,
    compile: (_value, at) => [leaf(at, 'absent', null)],
  },
  {
    name: 'literal',
    applies: (value) => isPrimitive(value),
    compile: (value, at) => [leaf(at, 'eq', value as Primitive)],
  },
  {
    name: 'type',
    applies: (value) => typeConstructorName(value) !== null,
    compile: (value, at) => [leaf(at, 'type', typeConstructorName(value) as TypeName)],
  },
  {
    name: 'regexp',
    applies: isRegExp,
    compile: (value, at, problems) => {
      const re = value as RegExp;
      if (!linearTimeRegExp(re.source, re.flags, at.where, problems)) return [];
      return [leaf(at, 'regexp', { source: re.source, flags: re.flags })];
    },
  },
  {
    name: 'reference',
    applies: isReferenceObject,
    compile: (value, at, problems) => [leaf(at, 'eq', reference(value as Record<string, unknown>, at.where, problems))],
  },
  {
    name: 'array',
    applies: Array.isArray,
    compile: (value, at, problems) => compileArray(value as unknown[], at, problems),
  },
  {
    name: 'object',
    applies: isPlainObject,
    compile: (value, at, problems) => compileObject(value as Record<string, unknown>, at, problems),
  },
];

function compilePattern(value: unknown, at: At, problems: Problems): Node[] {
  const rule = PATTERN_RULES.find((r) => r.applies(value));
  if (!rule) return problems.add(at.where, invalidValueMessage(value) ?? 'this value cannot be matched');
  if (isTaskRoot(at) && rule.name !== 'object') {
    return problems.add(at.where, 'a pattern over the whole task data must be a plain object of field patterns');
  }
  return visit(value, at.where, problems, [], () => rule.compile(value, at, problems));
}

/**
 * `["email","sms"]`: one `has` leaf per primitive (contains all of them); `[{ sku: String }]`: one `every`
 * leaf per object pattern (the array is not empty and each element matches; several patterns: each of them).
 * In a mixed list (values and object patterns) each object pattern is matched by some element.
 */
function compileArray(items: unknown[], at: At, problems: Problems): Node[] {
  if (items.length === 0) return [leaf(at, 'type', 'array')];
  // Only a list of object patterns describes the shape of every element; a list with any value, type check
  // or RegExp in it is a contains-all list, each object pattern then matched by some element.
  const elementTest = items.every((item, i) => i in items && isPlainObject(item) && !isReferenceObject(item)) ? 'every' : 'some';
  const nodes: Node[] = [];
  for (let i = 0; i < items.length; i++) {
    const where = [...at.where, i];
    const item = items[i];
    if (!(i in items)) {
      problems.add(where, 'empty array slot');
    } else if (isPrimitive(item)) {
      nodes.push(leaf(at, 'has', item));
    } else if (isReferenceObject(item)) {
      nodes.push(leaf(at, 'has', reference(item, where, problems)));
    } else {
      nodes.push(subLeaf(at, elementTest, compilePattern(item, { path: [], where, subject: 'value' }, problems)));
    }
  }
  return nodes;
}

/** A nested pattern, an operator object, or both with logical keys: each key is a constraint. */
function compileObject(obj: Record<string, unknown>, at: At, problems: Problems): Node[] {
  checkSymbolKeys(obj, at.where, problems);
  const keys = Object.keys(obj);
  // `{}` anywhere but the task root means "an object" (at the task root it is always true).
  if (keys.length === 0) return isTaskRoot(at) ? [] : [leaf(at, 'type', 'object')];

  const operators = keys.filter((k) => isOperatorKey(k) && !Object.hasOwn(LOGICAL, k));
  const fields = keys.filter((k) => !isOperatorKey(k));
  if (operators.length > 0 && fields.length > 0 && !isTaskRoot(at)) {
    problems.add(
      at.where,
      `mixes operators (${operators.join(', ')}) with field names (${fields.join(', ')}); put the operators under a field, or combine with $and`,
    );
  }
  if (operators.length > 0 && isTaskRoot(at)) {
    problems.add(at.where, `operators (${operators.join(', ')}) must be under a field name: they cannot apply to the task data itself`);
  }

  const nodes: Node[] = [];
  for (const key of keys) {
    const where = [...at.where, key];
    const value = obj[key];
    if (Object.hasOwn(LOGICAL, key)) {
      nodes.push(...(LOGICAL[key] as LogicalRule)(value, at, where, problems));
    } else if (isOperatorKey(key)) {
      const rule = Object.hasOwn(OPERATORS, key) ? OPERATORS[key] : undefined;
      if (rule) nodes.push(...rule(value, { ...at, where }, obj, problems));
      else problems.add(where, `unknown operator ${key} (known: ${KNOWN_OPERATORS})`);
    } else {
      nodes.push(...compilePattern(value, { path: [...at.path, key], where, subject: at.subject }, problems));
    }
  }
  return nodes;
}

// ---------------------------------------------------------------------------------------------
// Operator arguments

interface LiteralOptions {
  /** A RegExp is accepted here (top level of `$eq`/`$ne`, items of `$in`/`$nin`/`$all`). */
  regexp: boolean;
}

/** Validates and encodes an operator argument: JSON, `$data` references, and RegExps where allowed. */
function encodeLiteral(value: unknown, where: KeyPath, problems: Problems, options: LiteralOptions): JsonValue {
  if (isPrimitive(value)) return value;
  const typeName = typeConstructorName(value);
  if (typeName !== null) {
    problems.add(
      where,
      `${(value as { name: string }).name} is a type check, not a value: use { $type: ${(value as { name: string }).name} }`,
    );
    return null;
  }
  const invalid = invalidValueMessage(value);
  if (invalid !== null) {
    problems.add(where, invalid);
    return null;
  }
  if (isRegExp(value)) {
    if (options.regexp) return linearTimeRegExp(value.source, value.flags, where, problems) ? encodeRegExp(value) : null;
    problems.add(where, 'a RegExp is not allowed here (only in $eq, $ne, $in, $nin, $all, $regex, $not and as a pattern)');
    return null;
  }
  if (isReferenceObject(value)) return reference(value, where, problems);
  return visit<JsonValue>(value, where, problems, null, () => {
    if (Array.isArray(value)) {
      return Array.from(value, (item, i) => encodeLiteral(item, [...where, i], problems, { regexp: false }));
    }
    const obj = value as Record<string, unknown>;
    checkSymbolKeys(obj, where, problems);
    const out: JsonObject = {};
    for (const key of Object.keys(obj)) {
      if (isOperatorKey(key))
        problems.add([...where, key], `operator arguments cannot hold $ keys (${key}); only { $data: "path" } references`);
      out[key] = encodeLiteral(obj[key], [...where, key], problems, { regexp: false });
    }
    return out;
  });
}

type OperatorRule = (arg: unknown, at: At, owner: Record<string, unknown>, problems: Problems) => Node[];
type LogicalRule = (arg: unknown, at: At, where: KeyPath, problems: Problems) => Node[];

const opName = (at: At) => String(at.where[at.where.length - 1]);
/** A malformed operator argument: the specific reason when the value is never allowed, else `needs`. */
const malformed = (arg: unknown, at: At, problems: Problems, needs: string): [] =>
  problems.add(at.where, invalidValueMessage(arg) ?? needs);
/** The leaf's data path: the operator applies to the value of the object that holds it. */
const mongoLeaf = (at: At, operand: JsonObject) => leaf(at, 'mongo', operand);

/** `$eq`, `$ne`: any JSON value, RegExp or reference. */
const anyValue: OperatorRule = (arg, at, _owner, problems) => [
  mongoLeaf(at, { [opName(at)]: encodeLiteral(arg, at.where, problems, { regexp: true }) }),
];

/** `$gt` `$gte` `$lt` `$lte`: a number, a string or a reference. */
const ordered: OperatorRule = (arg, at, _owner, problems) => {
  if (typeof arg === 'number' || typeof arg === 'string' || isReferenceObject(arg)) return anyValue(arg, at, _owner, problems);
  return malformed(arg, at, problems, `${opName(at)} needs a number, a string or a { $data: "path" } reference`);
};

/** `$in` `$nin` `$all`: an array of values, RegExps or references. */
const list: OperatorRule = (arg, at, _owner, problems) => {
  if (!Array.isArray(arg)) return malformed(arg, at, problems, `${opName(at)} needs an array`);
  const items = visit<JsonValue>(arg, at.where, problems, [], () =>
    Array.from(arg, (item, i) => encodeLiteral(item, [...at.where, i], problems, { regexp: true })),
  );
  return [mongoLeaf(at, { [opName(at)]: items })];
};

const REGEX_OPTIONS = /^[imsu]*$/;

const OPERATORS: Record<string, OperatorRule> = {
  $eq: anyValue,
  $ne: anyValue,
  $gt: ordered,
  $gte: ordered,
  $lt: ordered,
  $lte: ordered,
  $in: list,
  $nin: list,
  $all: list,
  $exists: (arg, at, _owner, problems) =>
    typeof arg === 'boolean' ? [mongoLeaf(at, { $exists: arg })] : malformed(arg, at, problems, '$exists needs true or false'),
  $regex: (arg, at, owner, problems) => {
    let source: string;
    let flags = '';
    if (typeof arg === 'string') source = arg;
    else if (isRegExp(arg)) ({ source, flags } = arg);
    else return malformed(arg, at, problems, '$regex needs a string or a RegExp');
    const options = owner.$options;
    if (options !== undefined) {
      if (typeof options !== 'string' || !REGEX_OPTIONS.test(options)) {
        problems.add([...at.where.slice(0, -1), '$options'], '$options needs a string of regex flags among i, m, s, u');
      } else {
        for (const flag of options) if (!flags.includes(flag)) flags += flag;
      }
    }
    try {
      new RegExp(source, flags);
    } catch (error) {
      return problems.add(at.where, `invalid regular expression: ${(error as Error).message}`);
    }
    if (!linearTimeRegExp(source, flags, at.where, problems)) return [];
    return [mongoLeaf(at, flags ? { $regex: source, $options: flags } : { $regex: source })];
  },
  $options: (_arg, at, owner, problems) =>
    Object.hasOwn(owner, '$regex') ? [] : problems.add(at.where, '$options needs a $regex next to it'),
  $size: (arg, at, _owner, problems) => {
    if ((typeof arg === 'number' && Number.isInteger(arg) && arg >= 0) || isReferenceObject(arg)) {
      return [mongoLeaf(at, { $size: encodeLiteral(arg, at.where, problems, { regexp: false }) })];
    }
    return malformed(arg, at, problems, '$size needs a non-negative integer or a { $data: "path" } reference');
  },
  $type: (arg, at, _owner, problems) => {
    const name = typeConstructorName(arg) ?? (isTypeName(arg) ? arg : null);
    if (name === null) {
      return problems.add(
        at.where,
        '$type needs String, Number, Boolean, Array, Object or one of "string", "number", "boolean", "array", "object", "null"',
      );
    }
    return [leaf(at, 'type', name)];
  },
  $elemMatch: (arg, at, _owner, problems) => {
    if (!isPlainObject(arg)) {
      return malformed(arg, at, problems, '$elemMatch needs an object: a sub-pattern ({ sku: String }) or operators ({ $gt: 5 })');
    }
    return [subLeaf(at, 'some', compilePattern(arg, { path: [], where: at.where, subject: 'value' }, problems))];
  },
  $not: (arg, at, _owner, problems) => {
    const operatorObject = isPlainObject(arg) && Object.keys(arg).length > 0 && Object.keys(arg).every(isOperatorKey);
    if (!isRegExp(arg) && !operatorObject) {
      return malformed(arg, at, problems, '$not needs a RegExp or an object of operators (e.g. { $gt: 5 })');
    }
    return [subLeaf(at, 'not', compilePattern(arg, { path: [], where: at.where, subject: 'value' }, problems))];
  },
};

/** `$and` `$or` `$nor`: a non-empty array of patterns at the same level as the key. */
function logical(op: '$and' | '$or' | '$nor'): LogicalRule {
  return (arg, at, where, problems) => {
    if (!Array.isArray(arg) || arg.length === 0) {
      return problems.add(where, invalidValueMessage(arg) ?? `${op} needs a non-empty array of patterns`);
    }
    const branches = visit(arg, where, problems, [] as Node[][], () =>
      Array.from(arg, (item, i) => compilePattern(item, { path: at.path, where: [...where, i], subject: at.subject }, problems)),
    );
    return op === '$and' ? branches.flat() : [group(at, op, branches)];
  };
}

const LOGICAL: Record<string, LogicalRule> = {
  $and: logical('$and'),
  $or: logical('$or'),
  $nor: logical('$nor'),
};

const KNOWN_OPERATORS = [...Object.keys(OPERATORS), ...Object.keys(LOGICAL), DATA_TAG].join(' ');

// ---------------------------------------------------------------------------------------------
// Entry point

/**
 * Compiles a step's condition. Throws ConditionError listing every problem found.
 * The result is plain JSON (survives JSON round trips) and is matched by createMatcher.
 */
export function compileCondition(condition: unknown): CompiledCondition {
  const problems = new Problems();
  let nodes: Node[] = [];
  if (!isPlainObject(condition)) {
    const invalid = invalidValueMessage(condition);
    problems.add([], `a condition must be a plain object of field patterns${invalid ? `; ${invalid}` : ''}`);
  } else {
    nodes = compilePattern(condition, { path: [], where: [], subject: 'task' }, problems);
  }
  if (problems.list.length > 0) throw new ConditionError(problems.list);

  const constraints = canonSet(nodes).map(canonicalJson);
  return { query: toQuery(nodes), specificity: constraints.length, constraints };
}
