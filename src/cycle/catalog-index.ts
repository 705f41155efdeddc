/**
 * The catalog index: which steps can possibly match some task data, found without running their
 * matchers. Built once per compiled catalog; each cycle then runs only the matchers of the steps
 * whose requirement holds (plus the steps that have no requirement at all).
 *
 * A requirement is a NECESSARY condition of a step's compiled query, read from the top-level `$and`
 * leaves (compile.ts): when the requirement fails on some data, the query fails on that data too.
 * The index therefore only ever skips steps that cannot match; it never changes a selection.
 *
 * - `value`: the leaf `{ path, test: "eq", arg }` with a primitive `arg` (string, number, boolean)
 *   matches only when the value at `path` is `arg` (equalsValue with a primitive is `===`).
 * - `object`: every leaf at a path `[k, …]` of length ≥ 2 needs `data[k]` to be an object, not
 *   null, not an array (paths.ts `parentIsObject`).
 * - `defined`: a leaf at `[k]` or `[k, …]` whose test fails on a missing value (`eq` with a non-null
 *   argument, `type`, `regexp`, `has`, `some`, and a few MongoDB operators, see PRESENCE_OPERATORS)
 *   needs `data[k]` to be present.
 * Leaves that may match a missing value (`absent`, `not`, `$ne`, `$nin`, `$exists: false`, …) and
 * `$or` / `$nor` groups give no requirement; a step with no requirement is checked every cycle.
 *
 * Each step is filed under ONE requirement (the most selective one it has), so the candidate lists
 * are disjoint and the union is a merge of sorted position lists.
 *
 * Pure, deterministic, no I/O and no node built-ins: runs inside the Temporal workflow sandbox.
 */
import { asEncodedRegExp, asReference } from '../conditions/values';
import { LEAF_OPERATION } from '../conditions/types';
import { valueAt } from '../conditions/paths';
import type { JsonObject, JsonValue } from '../model/json';

/** A primitive an `eq` leaf can be indexed by (null is the `absent` test, never an `eq` literal). */
export type IndexedValue = string | number | boolean;

export type Requirement =
  /** The value at `path` (pattern navigation, paths.ts valueAt) is `value`. */
  | { kind: 'value'; path: string[]; value: IndexedValue }
  /** `data[key]` is an object: not null, not an array. */
  | { kind: 'object'; key: string }
  /** `data` has its own `key`, with a value other than undefined. */
  | { kind: 'defined'; key: string };

const hasOwn = Object.prototype.hasOwnProperty;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const isIndexedValue = (value: unknown): value is IndexedValue =>
  typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));

/** A static operand that no missing value can equal: a non-null primitive (not a RegExp, not a `$data` reference). */
const isStaticPrimitive = (value: unknown): boolean => isIndexedValue(value);

const isReferenceArg = (value: unknown): boolean => asReference(value) !== null;

/**
 * MongoDB operator leaves (`test: "mongo"`, arg `{ $op: operand }`) that are false on a missing value,
 * with the operands for which this holds. Anything not listed (`$ne`, `$nin`, `$all`, `$exists: false`,
 * `$in: [null]`, `$eq: null`, RegExp operands, …) gives no requirement.
 */
const PRESENCE_OPERATORS: Record<string, (operand: unknown, arg: Record<string, unknown>) => boolean> = {
  $exists: (operand) => operand === true,
  // Ordered comparisons: a number or a string; a `$data` reference resolving to anything else compares false.
  $gt: (operand) => typeof operand === 'number' || typeof operand === 'string' || isReferenceArg(operand),
  $gte: (operand) => typeof operand === 'number' || typeof operand === 'string' || isReferenceArg(operand),
  $lt: (operand) => typeof operand === 'number' || typeof operand === 'string' || isReferenceArg(operand),
  $lte: (operand) => typeof operand === 'number' || typeof operand === 'string' || isReferenceArg(operand),
  $eq: isStaticPrimitive,
  $in: (operand) => Array.isArray(operand) && operand.every(isStaticPrimitive),
  $size: (operand) => typeof operand === 'number',
  $regex: (operand, arg) =>
    typeof operand === 'string' && Object.keys(arg).every((k) => k === '$regex' || (k === '$options' && typeof arg[k] === 'string')),
};

function mongoNeedsPresence(arg: JsonValue): boolean {
  if (!isRecord(arg)) return false;
  const keys = Object.keys(arg);
  const op = keys[0];
  if (op === undefined || !hasOwn.call(PRESENCE_OPERATORS, op)) return false;
  if (keys.length !== 1 && op !== '$regex') return false;
  if (asEncodedRegExp(arg[op]) !== null) return false;
  return (PRESENCE_OPERATORS[op] as (operand: unknown, arg: Record<string, unknown>) => boolean)(arg[op], arg);
}

/** Whether a leaf test is false whenever the value at its path is missing. */
function needsPresence(test: string, arg: JsonValue): boolean {
  switch (test) {
    case 'eq':
      return arg !== null;
    case 'type':
    case 'regexp':
    case 'has':
    case 'some':
    case 'every':
      return true;
    case 'mongo':
      return mongoNeedsPresence(arg);
    default:
      // absent, not, and any test this module does not know: may match a missing value.
      return false;
  }
}

interface LeafParams {
  path: string[];
  test: string;
  arg: JsonValue;
}

/** A top-level item that is exactly one `$wf` leaf with well-formed params, else null. */
function asTopLeaf(item: unknown): LeafParams | null {
  if (!isRecord(item)) return null;
  const keys = Object.keys(item);
  if (keys.length !== 1 || keys[0] !== LEAF_OPERATION) return null;
  const params = item[LEAF_OPERATION];
  if (!isRecord(params)) return null;
  const { path, test, arg } = params;
  if (!Array.isArray(path) || !path.every((k) => typeof k === 'string') || typeof test !== 'string') return null;
  return { path: path as string[], test, arg: arg as JsonValue };
}

/**
 * The requirements of a compiled query (compile.ts format), each one necessary for the query to
 * match. Empty when the query has none it can prove: `{}`, only `$or`/`$nor` groups, only leaves
 * that may match a missing value, or a query of a shape this module does not recognise.
 */
export function extractRequirements(query: JsonObject): Requirement[] {
  const keys = Object.keys(query);
  if (keys.length !== 1 || keys[0] !== '$and') return [];
  const items = query.$and;
  if (!Array.isArray(items)) return [];
  const out: Requirement[] = [];
  for (const item of items) {
    const leaf = asTopLeaf(item);
    if (leaf === null || leaf.path.length === 0) continue;
    const key = leaf.path[0] as string;
    if (leaf.test === 'eq' && isIndexedValue(leaf.arg)) out.push({ kind: 'value', path: leaf.path, value: leaf.arg });
    if (leaf.path.length >= 2) out.push({ kind: 'object', key });
    else if (needsPresence(leaf.test, leaf.arg)) out.push({ kind: 'defined', key });
  }
  return out;
}

/** Whether `data` meets a requirement (the same navigation the matchers use). */
export function meetsRequirement(requirement: Requirement, data: JsonObject): boolean {
  switch (requirement.kind) {
    case 'value':
      return valueAt(data, requirement.path) === requirement.value;
    case 'object':
      return hasOwn.call(data, requirement.key) && isRecord(data[requirement.key]);
    case 'defined':
      return hasOwn.call(data, requirement.key) && data[requirement.key] !== undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The index

interface ValuePath {
  path: string[];
  /** Literal at `path` → positions (ascending) of the steps filed under it. */
  byValue: Map<IndexedValue, number[]>;
}

interface KeyBucket {
  key: string;
  /** Positions (ascending) of the steps filed under this key. */
  steps: number[];
}

export interface CatalogIndex {
  /** Number of steps indexed (positions are 0 … size-1, in catalog order). */
  readonly size: number;
  /** Steps with no requirement: checked every cycle. */
  readonly always: readonly number[];
  readonly values: readonly ValuePath[];
  readonly objects: readonly KeyBucket[];
  readonly defined: readonly KeyBucket[];
  /** The requirement each step is filed under (null: always checked), by position. */
  readonly filedUnder: readonly (Requirement | null)[];
}

const pathKey = (path: readonly string[]) => JSON.stringify(path);

/**
 * Picks the requirement a step is filed under: a literal value if it has one (the least shared one
 * across the catalog), else an object key, else a present key (again the least shared), else none.
 */
function choose(requirements: Requirement[], counts: Map<string, number>): Requirement | null {
  let best: Requirement | null = null;
  let bestRank = Infinity;
  let bestCount = Infinity;
  for (const requirement of requirements) {
    const rank = requirement.kind === 'value' ? 0 : requirement.kind === 'object' ? 1 : 2;
    const count = counts.get(countKey(requirement)) ?? 0;
    if (rank < bestRank || (rank === bestRank && count < bestCount)) {
      best = requirement;
      bestRank = rank;
      bestCount = count;
    }
  }
  return best;
}

function countKey(requirement: Requirement): string {
  switch (requirement.kind) {
    case 'value':
      return `v${pathKey(requirement.path)}${typeof requirement.value}:${String(requirement.value)}`;
    case 'object':
      return `o${requirement.key}`;
    case 'defined':
      return `d${requirement.key}`;
  }
}

/** Builds the index of a catalog's queries, in catalog order (position i ↔ queries[i]). */
export function buildCatalogIndex(queries: readonly JsonObject[]): CatalogIndex {
  const perStep = queries.map(extractRequirements);
  const counts = new Map<string, number>();
  for (const requirements of perStep) {
    const seen = new Set<string>();
    for (const requirement of requirements) {
      const key = countKey(requirement);
      if (seen.has(key)) continue;
      seen.add(key);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }

  const always: number[] = [];
  const values = new Map<string, ValuePath>();
  const objects = new Map<string, KeyBucket>();
  const defined = new Map<string, KeyBucket>();
  const filedUnder: (Requirement | null)[] = [];
  perStep.forEach((requirements, position) => {
    const chosen = choose(requirements, counts);
    filedUnder.push(chosen);
    if (chosen === null) {
      always.push(position);
    } else if (chosen.kind === 'value') {
      const key = pathKey(chosen.path);
      let entry = values.get(key);
      if (!entry) {
        entry = { path: chosen.path, byValue: new Map() };
        values.set(key, entry);
      }
      const list = entry.byValue.get(chosen.value);
      if (list) list.push(position);
      else entry.byValue.set(chosen.value, [position]);
    } else {
      const buckets = chosen.kind === 'object' ? objects : defined;
      const bucket = buckets.get(chosen.key);
      if (bucket) bucket.steps.push(position);
      else buckets.set(chosen.key, { key: chosen.key, steps: [position] });
    }
  });
  return {
    size: queries.length,
    always,
    values: [...values.values()],
    objects: [...objects.values()],
    defined: [...defined.values()],
    filedUnder,
  };
}

/**
 * Positions (ascending, i.e. catalog order) of the steps whose requirement holds on `data`, plus the
 * steps without one. Every step that matches `data` is among them.
 */
export function indexCandidates(index: CatalogIndex, data: JsonObject): number[] {
  const lists: (readonly number[])[] = [];
  if (index.always.length > 0) lists.push(index.always);
  for (const entry of index.values) {
    const value = valueAt(data, entry.path);
    if (value === undefined) continue;
    const list = entry.byValue.get(value as IndexedValue);
    if (list) lists.push(list);
  }
  for (const bucket of index.objects) {
    if (hasOwn.call(data, bucket.key) && isRecord(data[bucket.key])) lists.push(bucket.steps);
  }
  for (const bucket of index.defined) {
    if (hasOwn.call(data, bucket.key) && data[bucket.key] !== undefined) lists.push(bucket.steps);
  }
  if (lists.length === 0) return [];
  if (lists.length === 1) return (lists[0] as readonly number[]).slice();
  // Each step is filed under one requirement, so the lists are disjoint: concatenate and sort.
  const out: number[] = [];
  for (const list of lists) for (let i = 0; i < list.length; i++) out.push(list[i] as number);
  return out.sort((a, b) => a - b);
}
