import { createMatcher } from '../conditions/match';
import type { Matcher } from '../conditions/types';
import type { JsonObject } from '../model/json';
import type { Catalog, CatalogStep } from '../model/task';

/** A catalog with each condition turned into a tester once, not once per cycle. */
export interface CompiledCatalog {
  version: string;
  connectors: Catalog['connectors'];
  steps: { step: CatalogStep; matches: Matcher; constraints: ReadonlySet<string> }[];
}

export function compileCatalog(catalog: Catalog): CompiledCatalog {
  return {
    version: catalog.version,
    connectors: catalog.connectors,
    steps: catalog.steps.map((step) => ({
      step,
      matches: createMatcher(step.condition),
      constraints: new Set(step.condition.constraints),
    })),
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
 */
export function selectSteps(catalog: CompiledCatalog, data: JsonObject, isEligible: (name: string) => boolean, concurrency: number): Selection {
  const candidates = catalog.steps.filter((entry) => isEligible(entry.step.name) && entry.matches(data));
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
