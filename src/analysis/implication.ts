/**
 * Condition implication: whether every data one compiled condition matches is matched by another.
 * Conservative: `true` only when it is sure (identical constraints, or leaf rules proven below);
 * `$data` references, sub-queries (`$elemMatch`-like, `$not`) and groups other than identical ones
 * count as "not sure". Pure.
 */
import { LEAF_TESTS, isLeafTestName, type LeafEnv } from '../conditions/leaf-tests';
import type { CompiledCondition } from '../conditions/types';
import { isJsonObject, type JsonValue } from '../model/json';

/** One `$wf` leaf as a constraint string spells it. */
export interface ConstraintLeaf {
  path: string[];
  test: string;
  arg: JsonValue;
}

const UNSURE_TESTS = new Set(['some', 'every', 'not']);
const RANGE_OPERATORS = new Set(['$gt', '$gte', '$lt', '$lte']);
const NO_SUBQUERIES: LeafEnv = { subQuery: () => () => false, describeQuery: () => '…' };

const usesReference = (arg: JsonValue) => JSON.stringify(arg).includes('"$data"');
const isPrimitive = (value: unknown): value is string | number | boolean | null =>
  value === null || ['string', 'number', 'boolean'].includes(typeof value);

/** A constraint string as a leaf; null for a group (`$or`, `$nor`) or anything else. */
export function parseConstraint(constraint: string): ConstraintLeaf | null {
  const parsed = JSON.parse(constraint) as JsonValue;
  if (!isJsonObject(parsed) || typeof parsed.test !== 'string' || parsed.test.startsWith('$') || !Array.isArray(parsed.path)) return null;
  return { path: parsed.path.map(String), test: parsed.test, arg: (parsed.arg ?? null) as JsonValue };
}

/** Whether the leaf can be evaluated here on plain values (no references, no sub-queries). */
function evaluable(leaf: ConstraintLeaf): boolean {
  return isLeafTestName(leaf.test) && !UNSURE_TESTS.has(leaf.test) && !usesReference(leaf.arg);
}

function testerOf(leaf: ConstraintLeaf): (value: unknown) => boolean {
  if (!isLeafTestName(leaf.test)) return () => false;
  const test = LEAF_TESTS[leaf.test].build(leaf.arg, NO_SUBQUERIES);
  return (value) => test(value, {});
}

/** The single MongoDB operator of a `mongo` leaf, with its operand. */
function mongoOperator(leaf: ConstraintLeaf): { op: string; operand: JsonValue } | null {
  if (leaf.test !== 'mongo' || !isJsonObject(leaf.arg)) return null;
  const entries = Object.entries(leaf.arg);
  if (entries.length !== 1) return null;
  const [op, operand] = entries[0]!;
  return { op, operand: operand as JsonValue };
}

const startsWith = (path: readonly string[], prefix: readonly string[]) =>
  prefix.length <= path.length && prefix.every((key, i) => path[i] === key);

/** Whether the `strong` bound is at least as tight as the `weak` one, both on the same side (`$gt`/`$gte` or `$lt`/`$lte`). */
function rangeImplies(strong: { op: string; operand: JsonValue }, weak: { op: string; operand: JsonValue }): boolean {
  const a = strong.operand;
  const b = weak.operand;
  if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) return false;
  const strictStrong = strong.op === '$gt' || strong.op === '$lt';
  const strictWeak = weak.op === '$gt' || weak.op === '$lt';
  if (strong.op.startsWith('$g') && weak.op.startsWith('$g')) return a > b || (a === b && (strictStrong || !strictWeak));
  if (strong.op.startsWith('$l') && weak.op.startsWith('$l')) return a < b || (a === b && (strictStrong || !strictWeak));
  return false;
}

/**
 * Whether any value meeting `strong` meets `weak`. Rules, each sound under sift's array semantics
 * (a range or `$in` holds on an array when one element meets it):
 * - identical leaves;
 * - `$exists: true` is met by any leaf at its path or below that fails on a missing value;
 * - a literal (`eq`) at the same path fixes the value: `weak` is evaluated on it;
 * - a range implies a range on the same side with a looser bound of the same type;
 * - `$in` implies `$in` over a superset, and a range every listed value meets;
 * - `has` (array contains) implies the Array type.
 */
export function leafImplies(strong: ConstraintLeaf, weak: ConstraintLeaf): boolean {
  if (JSON.stringify(strong) === JSON.stringify(weak)) return true;
  if (!evaluable(strong) || !evaluable(weak)) return false;
  const weakOp = mongoOperator(weak);
  if (weakOp?.op === '$exists' && weakOp.operand === true) {
    return startsWith(strong.path, weak.path) && !testerOf(strong)(undefined);
  }
  if (JSON.stringify(strong.path) !== JSON.stringify(weak.path)) return false;
  if (strong.test === 'eq') return testerOf(weak)(strong.arg);
  if (strong.test === 'has') return weak.test === 'type' && weak.arg === 'array';
  const strongOp = mongoOperator(strong);
  if (!strongOp || !weakOp) return false;
  if (RANGE_OPERATORS.has(strongOp.op) && RANGE_OPERATORS.has(weakOp.op)) return rangeImplies(strongOp, weakOp);
  if (strongOp.op === '$in' && Array.isArray(strongOp.operand) && strongOp.operand.length > 0 && strongOp.operand.every(isPrimitive)) {
    if (weakOp.op === '$in' && Array.isArray(weakOp.operand))
      return strongOp.operand.every((value) => (weakOp.operand as JsonValue[]).includes(value));
    if (RANGE_OPERATORS.has(weakOp.op)) {
      const weakTest = testerOf(weak);
      return strongOp.operand.every((value) => value !== null && weakTest(value));
    }
  }
  return false;
}

/**
 * Whether `general` matches all data `specific` matches: each of its constraints appears in
 * `specific` (groups only this way) or is implied by one of `specific`'s leaves.
 */
export function conditionImplies(specific: CompiledCondition, general: CompiledCondition): boolean {
  const specificLeaves = specific.constraints.map(parseConstraint).filter((leaf): leaf is ConstraintLeaf => leaf !== null);
  return general.constraints.every((constraint) => {
    if (specific.constraints.includes(constraint)) return true;
    const leaf = parseConstraint(constraint);
    return leaf !== null && specificLeaves.some((strong) => leafImplies(strong, leaf));
  });
}
