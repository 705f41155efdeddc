import type { JsonObject, JsonValue } from '../model/json';
import { FinalError, brandError } from '../model/errors';

/**
 * A condition compiled at load time. Plain JSON so it can travel through workflow history:
 * the workflow rebuilds a sift tester from `query` and never sees the step file.
 */
export interface CompiledCondition {
  /** A sift query over the task data, using whenflow's own operations for the pattern rules. */
  query: JsonObject;
  /** Number of leaf constraints (docs/semantics.md "Conditions", specificity). */
  specificity: number;
  /** Canonical, sorted, unique strings, one per leaf constraint; used for subsumption. */
  constraints: string[];
}

/** One reason a condition cannot be compiled, located by its key path inside the condition. */
export interface ConditionProblem {
  /** Dot/bracket key path inside the condition, e.g. `order.items[0].sku`; `` for the root. */
  path: string;
  message: string;
}

export class ConditionError extends FinalError {
  static {
    brandError(ConditionError, 'ConditionError');
  }

  constructor(readonly problems: ConditionProblem[]) {
    super(problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; '));
  }
}

/** Why a compiled condition does not match some data: the first failing constraint. */
export interface Mismatch {
  /** Dot path into the data, e.g. `order.status`. */
  path: string;
  /** Human-readable description of what the constraint expects, e.g. `"new"`, `a String`, `$gt 5`. */
  expected: string;
  /** The value found at `path` (undefined when missing). */
  actual: JsonValue | undefined;
}

export type Matcher = (data: JsonObject) => boolean;

/**
 * Compiled query format (see compile.ts). The query is `{}` (matches everything) or
 * `{ $and: [ item, … ] }`, where each item is either a leaf, run by whenflow's own sift operation,
 *   { "$wf": { "path": ["order", "status"], "test": "eq", "arg": "new" } }
 * or a group of alternatives, run by sift's own `$or` / `$nor` over sub-queries of the same shape,
 *   { "$or": [ query, … ], "$at": ["order"] }
 * (`$at` is a no-op operation recording the level the group was written at, for explanations).
 */
export const LEAF_OPERATION = '$wf';
export const LEVEL_OPERATION = '$at';

/** The parameters of one `$wf` leaf: where it looks (pattern path, no array traversal) and what it tests. */
export type CompiledLeaf = {
  path: string[];
  /** A key of LEAF_TESTS (leaf-tests.ts): eq, type, absent, regexp, has, some, every, not, mongo. */
  test: string;
  arg: JsonValue;
};
