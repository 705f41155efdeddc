/**
 * Why each step did or did not run on some data: whether it matches, its rank among the candidates, the
 * first constraint it fails (with a key one edit away in the data as a suggestion), and for a matching
 * step what held it back. Pure: the same selection rules as the workflow (cycle/select.ts).
 */
import { distance } from 'fastest-levenshtein';
import { explainMismatch } from '../conditions/match';
import { LEAF_OPERATION, LEVEL_OPERATION, type CompiledCondition } from '../conditions/types';
import { compareRank, compileCatalog, selectStepsUnindexed, type CompiledStep } from '../cycle/select';
import { formatJsonPath, isJsonObject, type JsonObject, type JsonValue } from '../model/json';
import type { Catalog, CatalogStep } from '../model/task';
import type { SequenceAt } from './timeline';

/** The first constraint a step's condition fails on the data. */
export interface FailingConstraint {
  /** Dot path into the data, e.g. `aproval.approved`. */
  path: string;
  /** What the constraint expects, e.g. `true`, `a String`, `$gt 0`. */
  expected: string;
  /** The value found at the path; absent when nothing is there. */
  actual?: JsonValue;
  /** A key of the data one edit away from a key the path names but the data lacks, e.g. `approval`. */
  didYouMean?: string;
  /** The path with that key corrected, e.g. `approval.approved`. */
  didYouMeanPath?: string;
}

export type StepStatus =
  /** Chosen: it runs (or ran) in this cycle. */
  | 'runs'
  /** Its condition does not match the data. */
  | 'no-match'
  /** It matches but has run already in this task (a step is eligible until it has run, unless it redoes). */
  | 'already-ran'
  /** It matches, but a more specific matching step acts first; it is matched again on the data that step leaves. */
  | 'subsumed'
  /** It matches, but a step ranked higher runs first (one step per cycle, or past the concurrency bound). */
  | 'ranked-lower'
  /** The task follows an explicit sequence, which lists another step next. */
  | 'sequence';

export interface StepExplanation {
  step: string;
  matched: boolean;
  /** Position among the matching steps in conflict-resolution order (1 runs first); null when it does not match. */
  rank: number | null;
  priority: number;
  specificity: number;
  status: StepStatus;
  /** Why, in words. */
  reason: string;
  failing?: FailingConstraint;
  /** How many of the condition's top-level constraints fail (0 when it matches). */
  failingCount: number;
  /** For `subsumed` and `ranked-lower`: the step that acts instead. */
  instead?: string;
}

export interface ExplainInput {
  catalog: Catalog;
  data: JsonObject;
  /** Steps that have run and are not eligible. */
  ran: readonly string[];
  concurrency: number;
  sequence?: SequenceAt | null;
  /** The steps that did run, when explaining a past cycle; otherwise they are worked out. */
  chosen?: readonly string[];
}

type QueryItem = JsonObject;

function queryItems(query: JsonObject): QueryItem[] {
  const and = query.$and;
  if (Array.isArray(and)) return and as QueryItem[];
  return Object.keys(query).length === 0 ? [] : [query];
}

function itemPath(item: QueryItem): string[] {
  const leaf = item[LEAF_OPERATION];
  if (isJsonObject(leaf) && Array.isArray(leaf.path)) return leaf.path as string[];
  const at = item[LEVEL_OPERATION];
  return Array.isArray(at) ? (at as string[]) : [];
}

/** Whether two keys are one edit apart: one letter added, dropped, changed, or two neighbours swapped. */
export function oneEditApart(a: string, b: string): boolean {
  if (a === b) return false;
  if (distance(a, b) === 1) return true;
  if (a.length !== b.length) return false;
  const differ: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ.push(i);
  return differ.length === 2 && differ[1] === differ[0]! + 1 && a[differ[0]!] === b[differ[1]!] && a[differ[1]!] === b[differ[0]!];
}

/** The closest key one edit away from `key` among `candidates` (alphabetically first on a tie), or null. */
export function suggestKey(key: string, candidates: Iterable<string>): string | null {
  const close = [...new Set(candidates)].filter((candidate) => oneEditApart(key, candidate)).sort();
  return close[0] ?? null;
}

/** Where a path leaves the data: the first key its parent object lacks, and a key one edit away from it. */
function suggestionFor(data: JsonObject, path: readonly string[]): { key: string; path: string } | null {
  let node: unknown = data;
  for (let i = 0; i < path.length; i++) {
    if (!isJsonObject(node)) return null;
    const key = path[i]!;
    if (!Object.hasOwn(node, key)) {
      const suggestion = suggestKey(key, Object.keys(node));
      return suggestion === null
        ? null
        : { key: suggestion, path: formatJsonPath([...path.slice(0, i), suggestion, ...path.slice(i + 1)]) };
    }
    node = node[key];
  }
  return null;
}

/** The first failing top-level constraint of a condition on the data, and how many fail; null when it matches. */
export function firstFailing(condition: CompiledCondition, data: JsonObject): { failing: FailingConstraint; count: number } | null {
  let first: FailingConstraint | null = null;
  let count = 0;
  for (const item of queryItems(condition.query)) {
    const single: CompiledCondition = { query: { $and: [item] }, specificity: 1, constraints: [] };
    const mismatch = explainMismatch(single, data);
    if (!mismatch) continue;
    count += 1;
    if (first) continue;
    first = { path: mismatch.path, expected: mismatch.expected, ...(mismatch.actual !== undefined ? { actual: mismatch.actual } : {}) };
    const suggestion = suggestionFor(data, itemPath(item));
    if (suggestion) {
      first.didYouMean = suggestion.key;
      first.didYouMeanPath = suggestion.path;
    }
  }
  return first ? { failing: first, count } : null;
}

/** `aproval.approved: expected true, found nothing (did you mean \`approval\`?)` */
export function describeFailing(failing: FailingConstraint): string {
  const found = failing.actual === undefined ? 'nothing' : JSON.stringify(failing.actual);
  const hint = failing.didYouMean ? ` (did you mean \`${failing.didYouMean}\`?)` : '';
  return `${failing.path || '(root)'}: expected ${failing.expected}, found ${found}${hint}`;
}

function isStrictSubset(small: ReadonlySet<string>, large: ReadonlySet<string>): boolean {
  if (small.size >= large.size) return false;
  for (const constraint of small) if (!large.has(constraint)) return false;
  return true;
}

/** Every step of the catalog, explained against the data, in catalog order. */
export function explainSteps(input: ExplainInput): StepExplanation[] {
  const compiled = compileCatalog(input.catalog);
  const ran = new Set(input.ran);
  const isEligible = (name: string) => !ran.has(name);
  const listed = input.sequence && input.sequence.next < input.sequence.steps.length ? input.sequence.steps[input.sequence.next]! : null;
  const matching = compiled.steps.filter((entry) => entry.matches(input.data));
  const candidates = matching.filter((entry) => isEligible(entry.step.name));
  const ranked = matching.map((entry) => entry.step).sort(compareRank);
  const chosen = new Set(
    input.chosen ??
      (listed
        ? matching.some((m) => m.step.name === listed)
          ? [listed]
          : []
        : selectStepsUnindexed(compiled, input.data, isEligible, input.concurrency).run.map((step) => step.name)),
  );
  const firstChosen = ranked.find((step) => chosen.has(step.name))?.name;

  return compiled.steps.map((entry: CompiledStep): StepExplanation => {
    const step: CatalogStep = entry.step;
    const base = { step: step.name, priority: step.priority, specificity: step.condition.specificity };
    const position = ranked.findIndex((s) => s.name === step.name);
    if (position < 0) {
      const miss = firstFailing(step.condition, input.data);
      const failing = miss?.failing;
      return {
        ...base,
        matched: false,
        rank: null,
        status: 'no-match',
        reason: failing ? `its condition does not match: ${describeFailing(failing)}` : 'its condition does not match',
        ...(failing ? { failing } : {}),
        failingCount: miss?.count ?? 1,
      };
    }
    const matched = { ...base, matched: true, rank: position + 1, failingCount: 0 };
    if (chosen.has(step.name))
      return {
        ...matched,
        status: 'runs',
        reason: listed
          ? 'it is the next step of the sequence and its condition matches'
          : 'it matches and ranks first among the eligible steps',
      };
    if (!isEligible(step.name))
      return {
        ...matched,
        status: 'already-ran',
        reason: 'it has already run in this task (a step runs again only when it calls step.redo())',
      };
    if (listed)
      return { ...matched, status: 'sequence', reason: `the task follows its sequence, which runs ${listed} next`, instead: listed };
    const over = candidates.find((other) => other !== entry && isStrictSubset(entry.constraints, other.constraints));
    if (over)
      return {
        ...matched,
        status: 'subsumed',
        reason: `${over.step.name} matches too with more specific constraints and acts first; this step is matched again on the data it leaves`,
        instead: over.step.name,
      };
    const instead = firstChosen ?? ranked.find((s) => isEligible(s.name))?.name;
    return {
      ...matched,
      status: 'ranked-lower',
      reason: `${instead ?? 'another step'} ranks higher and runs first (priority, then specificity, then name); this step is matched again on the data it leaves`,
      ...(instead ? { instead } : {}),
    };
  });
}

/** A step that does not match the data, with the constraint that stops it. */
export interface NearMiss {
  step: string;
  failing: FailingConstraint;
  /** How many top-level constraints of its condition fail. */
  failingCount: number;
}

/** Why a task is in `attention`: no eligible step matches its data. */
export interface AttentionReason {
  summary: string;
  /** Steps that fail the fewest constraints (one, where any step fails only one), each with its first failing constraint. */
  nearMisses: NearMiss[];
  /** Steps that match but have already run. */
  alreadyRan: string[];
}

export function attentionReason(explanations: readonly StepExplanation[]): AttentionReason {
  const misses = explanations.filter((e) => e.status === 'no-match' && e.failing);
  const fewest = Math.min(...misses.map((e) => e.failingCount));
  const nearMisses = misses
    .filter((e) => e.failingCount === fewest)
    .map((e) => ({ step: e.step, failing: e.failing!, failingCount: e.failingCount }));
  const alreadyRan = explanations.filter((e) => e.status === 'already-ran').map((e) => e.step);
  const parts = ['no eligible step matches the data'];
  if (nearMisses.length > 0) parts.push(nearMisses.map((m) => `${m.step} needs ${describeFailing(m.failing)}`).join('; '));
  if (alreadyRan.length > 0) parts.push(`already ran: ${alreadyRan.join(', ')}`);
  return { summary: parts.join(': ').replace(/: already ran/, '; already ran'), nearMisses, alreadyRan };
}
