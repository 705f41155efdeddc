/**
 * Runs compiled conditions. The sift tester is built once per condition with whenflow's own
 * operations: `$wf` (a leaf: navigate the pattern path without sift's array traversal, then run
 * the leaf test) and `$at` (a no-op marker on groups). sift itself runs `$and` / `$or` / `$nor`.
 *
 * Every sift tester here receives a frame `{ s, r }`: `s` the subject its paths start from (the task
 * data, an array element, the value under `$not`), `r` the task data (for `$data` references). A
 * frame is never an array, so sift never traverses it.
 *
 * Runs inside the Temporal workflow sandbox: deterministic, no I/O, no clock, no node built-ins,
 * no global state (all state lives in the testers built here; the work meter lives for one evaluation).
 */
import sift from 'sift';
import type { JsonObject, JsonValue } from '../model/json';
import { LEAF_TESTS, isLeafTestName, type LeafEnv, type LeafTester, type SubTester } from './leaf-tests';
import { parentIsObject, valueAt } from './paths';
import { formatJsonPath } from '../model/json';
import { chargeWork } from './work-meter';
import { LEAF_OPERATION, LEVEL_OPERATION, type CompiledCondition, type CompiledLeaf, type Matcher, type Mismatch } from './types';

interface Frame {
  s: unknown;
  r: unknown;
}

/** The part of sift's Operation interface whenflow's operations implement. */
interface SiftOperation {
  keep: boolean;
  done: boolean;
  propop: boolean;
  reset(): void;
  next(item: unknown): void;
}
type OperationCreator = (params: unknown) => SiftOperation | null;
type SiftFactory = (query: JsonObject, options: { operations: Record<string, OperationCreator> }) => (item: unknown) => boolean;
const createSiftTester = sift as unknown as SiftFactory;

class LeafOperation implements SiftOperation {
  keep = false;
  done = false;
  readonly propop = true;
  constructor(
    private readonly path: readonly string[],
    private readonly test: LeafTester,
  ) {}
  reset(): void {
    this.keep = false;
    this.done = false;
  }
  next(item: unknown): void {
    chargeWork(1);
    const frame = item as Frame;
    this.keep = parentIsObject(frame.s, this.path) && this.test(valueAt(frame.s, this.path), frame.r);
    this.done = true;
  }
}

function asLeaf(params: unknown): CompiledLeaf {
  const leaf = params as CompiledLeaf;
  if (
    typeof leaf !== 'object' ||
    leaf === null ||
    !Array.isArray(leaf.path) ||
    !leaf.path.every((k) => typeof k === 'string') ||
    !isLeafTestName(leaf.test)
  ) {
    throw new Error(`whenflow: malformed ${LEAF_OPERATION} leaf in compiled condition: ${JSON.stringify(params)}`);
  }
  return leaf;
}

const rejectOperation = (name: string) => (): never => {
  throw new Error(`whenflow: ${name} is not allowed in a compiled condition`);
};

const OPERATIONS: Record<string, OperationCreator> = {
  [LEAF_OPERATION]: (params) => {
    const leaf = asLeaf(params);
    const test = LEAF_TESTS[leaf.test as keyof typeof LEAF_TESTS].build(leaf.arg, ENV);
    return new LeafOperation(leaf.path, test);
  },
  [LEVEL_OPERATION]: () => null,
  // Never produced by the compiler; refuse them if a stored query was tampered with.
  $where: rejectOperation('$where'),
};

/** Builds a tester for a compiled query, applied to a subject with the task data as root. */
function buildTester(query: JsonObject): SubTester {
  if (Object.keys(query).length === 0) return () => true;
  const tester = createSiftTester(query, { operations: OPERATIONS });
  return (subject, root) => tester({ s: subject, r: root } satisfies Frame);
}

const ENV: LeafEnv = {
  subQuery: buildTester,
  describeQuery,
};

/** Builds the matcher of a compiled condition once; call it for every evaluation. */
export function createMatcher(compiled: CompiledCondition): Matcher {
  const tester = buildTester(compiled.query);
  return (data) => tester(data, data);
}

// ---------------------------------------------------------------------------------------------
// Explanations

type QueryItem = JsonObject;

/** The conjuncts of a compiled query (`{}` has none). */
function queryItems(query: JsonObject): QueryItem[] {
  const and = query.$and;
  if (Array.isArray(and)) return and as QueryItem[];
  return Object.keys(query).length === 0 ? [] : [query];
}

function groupOf(item: QueryItem): { op: string; branches: JsonObject[]; path: string[] } | null {
  for (const op of ['$or', '$nor', '$and']) {
    const branches = item[op];
    if (Array.isArray(branches)) {
      const at = item[LEVEL_OPERATION];
      return { op, branches: branches as JsonObject[], path: Array.isArray(at) ? (at as string[]) : [] };
    }
  }
  return null;
}

function describeItem(item: QueryItem): string {
  const params = item[LEAF_OPERATION];
  if (params !== undefined) {
    const leaf = asLeaf(params);
    const expected = LEAF_TESTS[leaf.test as keyof typeof LEAF_TESTS].describe(leaf.arg, ENV);
    return leaf.path.length ? `${formatJsonPath(leaf.path)}: ${expected}` : expected;
  }
  const group = groupOf(item);
  if (group) return `${group.op} [ ${group.branches.map(describeQuery).join(' | ')} ]`;
  return JSON.stringify(item);
}

/** Readable form of a compiled query, e.g. `{ sku: a String, qty: $gt 0 }`. */
export function describeQuery(query: JsonObject): string {
  const parts = queryItems(query).map(describeItem);
  if (parts.length === 0) return 'anything';
  return parts.length === 1 ? (parts[0] as string) : `{ ${parts.join(', ')} }`;
}

/**
 * The first leaf constraint (in the condition's order) that `data` fails, or null when the
 * condition matches. Diagnostic only: builds testers on each call.
 */
export function explainMismatch(compiled: CompiledCondition, data: JsonObject): Mismatch | null {
  for (const item of queryItems(compiled.query)) {
    if (buildTester(item)(data, data)) continue;
    const params = item[LEAF_OPERATION];
    if (params !== undefined) {
      const leaf = asLeaf(params);
      return {
        path: formatJsonPath(leaf.path),
        expected: LEAF_TESTS[leaf.test as keyof typeof LEAF_TESTS].describe(leaf.arg, ENV),
        actual: valueAt(data, leaf.path) as JsonValue | undefined,
      };
    }
    const path = groupOf(item)?.path ?? [];
    return { path: formatJsonPath(path), expected: describeItem(item), actual: valueAt(data, path) as JsonValue | undefined };
  }
  return null;
}
