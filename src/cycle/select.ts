import { createMatcher } from '../conditions/match';
import type { Matcher } from '../conditions/types';
import type { JsonObject } from '../model/json';
import type { Catalog, CatalogStep } from '../model/task';
import { conditionReads } from './condition-reads';
import { buildCatalogIndex, indexCandidates, type CatalogIndex } from './catalog-index';

export interface CompiledStep {
  step: CatalogStep;
  matches: Matcher;
  constraints: ReadonlySet<string>;
  /** What the condition looks at (JSON Pointers): part of what the step read, in a parallel batch. */
  reads: readonly string[];
}

/**
 * A catalog with each condition turned into a tester once, not once per cycle, and an index of what
 * each condition requires of the data (catalog-index.ts), so a cycle runs only the testers that can match.
 */
export interface CompiledCatalog {
  version: string;
  connectors: Catalog['connectors'];
  readonly steps: readonly CompiledStep[];
  /** What each step requires of the data, by position in `steps`. */
  index: CatalogIndex;
}

export function compileCatalog(catalog: Catalog): CompiledCatalog {
  return {
    version: catalog.version,
    connectors: catalog.connectors,
    steps: catalog.steps.map((step) => ({
      step,
      matches: createMatcher(step.condition),
      constraints: new Set(step.condition.constraints),
      reads: conditionReads(step.condition.query),
    })),
    index: buildCatalogIndex(catalog.steps.map((step) => step.condition.query)),
  };
}

export interface Selection {
  /** Steps to run this cycle, in rank order (merge order). */
  run: CatalogStep[];
  /** Candidates held back to the next cycle: subsumed by a more specific candidate, or over the concurrency bound. */
  deferred: string[];
}

/** Conflict resolution order: priority, then specificity (both higher first), then name. */
export function compareRank(a: CatalogStep, b: CatalogStep): number {
  return b.priority - a.priority || b.condition.specificity - a.condition.specificity || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function isStrictSubset(small: ReadonlySet<string>, large: ReadonlySet<string>): boolean {
  if (small.size >= large.size) return false;
  for (const constraint of small) if (!large.has(constraint)) return false;
  return true;
}

/**
 * Recognize: which eligible steps match the data, and which of them act in this cycle.
 * A candidate whose constraints are a strict subset of another candidate's is deferred, so the more
 * specific step acts first and the general one is matched again against the data that step leaves.
 * Only the steps the catalog index leaves as candidates are asked `isEligible` and run their matcher;
 * the others cannot match, so the selection is the one `selectStepsUnindexed` makes.
 */
export function selectSteps(
  catalog: CompiledCatalog,
  data: JsonObject,
  isEligible: (name: string) => boolean,
  concurrency: number,
): Selection {
  const candidates = indexCandidates(catalog.index, data)
    .map((position) => catalog.steps[position] as CompiledStep)
    .filter((entry) => isEligible(entry.step.name) && entry.matches(data));
  return resolve(candidates, concurrency);
}

/**
 * The same selection without the index: every step's matcher runs. The reference the index is tested
 * and benchmarked against (test/unit/catalog-index.test.ts, bench/p1-matching.ts).
 */
export function selectStepsUnindexed(
  catalog: CompiledCatalog,
  data: JsonObject,
  isEligible: (name: string) => boolean,
  concurrency: number,
): Selection {
  return resolve(
    catalog.steps.filter((entry) => isEligible(entry.step.name) && entry.matches(data)),
    concurrency,
  );
}

/** Candidates (in catalog order) → the steps that act now and the ones deferred. */
function resolve(candidates: CompiledStep[], concurrency: number): Selection {
  const deferred: string[] = [];
  const acting = candidates.filter((entry) => {
    const subsumed = candidates.some((other) => other !== entry && isStrictSubset(entry.constraints, other.constraints));
    if (subsumed) deferred.push(entry.step.name);
    return !subsumed;
  });
  const ranked = acting.map((entry) => entry.step).sort(compareRank);
  const run = ranked.slice(0, Math.max(1, concurrency));
  deferred.push(...ranked.slice(run.length).map((step) => step.name));
  return { run, deferred: deferred.sort() };
}
