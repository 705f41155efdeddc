/**
 * Catalog analysis: problems of a step catalog that no single step file shows. Pure: what the steps'
 * sources, the sample and scenario data, and the writes observed in scenario runs say comes in as input.
 *
 * - never-matches: a condition whose constraints contradict each other (`status: 'a'` and `$ne: 'a'`).
 * - shadowed: a step with the same condition as another that always ranks first and writes what the
 *   step's condition reads, so the step can run only if those changes leave its condition matching.
 * - unknown-key: a key a condition reads that no step writes and no sample or scenario holds (a typo,
 *   most often), with the key one edit away when there is one.
 * - overlapping-writes: two steps that can match the same data and were seen writing the same paths.
 */
import { LEAF_TESTS, isLeafTestName, type LeafEnv, type LeafTester } from '../conditions/leaf-tests';
import { formatPath } from '../conditions/paths';
import { LEAF_OPERATION, LEVEL_OPERATION } from '../conditions/types';
import { conditionReads } from '../cycle/condition-reads';
import { pointersOverlap } from '../cycle/merge';
import { compareRank } from '../cycle/select';
import { suggestKey } from '../explain/explain';
import { isJsonObject, type JsonObject, type JsonValue } from '../model/json';
import type { CatalogStep } from '../model/task';

export type FindingKind = 'never-matches' | 'shadowed' | 'unknown-key' | 'overlapping-writes';

export interface Finding {
  kind: FindingKind;
  /** Always a warning: the catalog loads and runs; these are likely mistakes. */
  severity: 'warning';
  /** The steps concerned (for `shadowed`: the shadowed step first, then the one that wins). */
  steps: string[];
  /** Dot paths into the task data (for `overlapping-writes`: JSON Pointers as recorded). */
  paths: string[];
  message: string;
  /** For `unknown-key`: the key one edit away. */
  didYouMean?: string;
}

export interface CatalogFacts {
  steps: readonly CatalogStep[];
  /** Each step's content source (and the workspace's libraries under `libraries/…`), to find keys steps write. */
  sources: Readonly<Record<string, string>>;
  /** Sample task data and scenario data (initial data and updates). */
  data: readonly JsonObject[];
  /** JSON Pointers each step was seen changing in scenario runs; absent: no runs recorded. */
  observedWrites?: Readonly<Record<string, readonly string[]>>;
}

interface Leaf {
  path: string[];
  test: string;
  arg: JsonValue;
}

/** The leaves of a compiled query that constrain the data itself (top level, or inside `$and` groups). */
function topLeaves(query: JsonObject): { leaves: Leaf[]; hasGroups: boolean } {
  const leaves: Leaf[] = [];
  let hasGroups = false;
  const items = Array.isArray(query.$and) ? query.$and : Object.keys(query).length ? [query] : [];
  for (const item of items) {
    if (!isJsonObject(item)) continue;
    const leaf = item[LEAF_OPERATION];
    if (isJsonObject(leaf) && Array.isArray(leaf.path) && typeof leaf.test === 'string') {
      leaves.push({ path: leaf.path.map(String), test: leaf.test, arg: (leaf.arg ?? null) as JsonValue });
    } else if (item[LEVEL_OPERATION] !== undefined || item.$or || item.$nor || item.$and) {
      hasGroups = true;
    }
  }
  return { leaves, hasGroups };
}

/** Every path a condition reads from the data root (leaves at any group depth, not inside array elements). */
function readPaths(query: JsonValue, out: string[][] = []): string[][] {
  if (Array.isArray(query)) {
    for (const item of query) readPaths(item, out);
    return out;
  }
  if (!isJsonObject(query)) return out;
  const leaf = query[LEAF_OPERATION];
  if (isJsonObject(leaf) && Array.isArray(leaf.path)) {
    out.push(leaf.path.map(String));
    return out;
  }
  for (const key of ['$and', '$or', '$nor']) if (query[key] !== undefined) readPaths(query[key] as JsonValue, out);
  return out;
}

const usesReference = (arg: JsonValue) => JSON.stringify(arg).includes('"$data"');

/** Leaf tests whose sub-queries this analysis does not evaluate: they count as satisfiable. */
const OPAQUE_TESTS = new Set(['some', 'every', 'not']);

const OPAQUE_ENV: LeafEnv = { subQuery: () => () => true, describeQuery: () => '…' };

/** Values worth trying against a path's leaves: every literal they name, values either side of each bound, one of each type, and nothing. */
function candidates(leaves: readonly Leaf[]): unknown[] {
  const out: unknown[] = [undefined, null, 'x', 0, 1, -1, true, false, [], {}];
  const members: JsonValue[] = [];
  for (const leaf of leaves) {
    if (leaf.test === 'eq') out.push(leaf.arg);
    if (leaf.test === 'has') members.push(leaf.arg);
    if (leaf.test === 'mongo' && isJsonObject(leaf.arg)) {
      for (const [op, operand] of Object.entries(leaf.arg)) {
        if (Array.isArray(operand)) out.push(...operand, operand, [...operand]);
        else out.push(operand);
        if (typeof operand === 'number') out.push(operand + 1, operand - 1, operand + 0.5, operand - 0.5);
        if (typeof operand === 'string') out.push(`${operand}~`, operand.slice(0, -1), '');
        if (op === '$size' && typeof operand === 'number') out.push(Array.from({ length: operand }, () => 0));
      }
    }
  }
  if (members.length > 0) out.push(members);
  return out;
}

/**
 * Whether some data can meet all these leaves at once. Paths are checked one by one (a path with
 * deeper leaves must hold an object); RegExps, sub-queries and `$data` references count as satisfiable.
 */
export function satisfiable(leaves: readonly Leaf[]): { ok: true } | { ok: false; path: string[] } {
  const byPath = new Map<string, Leaf[]>();
  for (const leaf of leaves) {
    const key = JSON.stringify(leaf.path);
    byPath.set(key, [...(byPath.get(key) ?? []), leaf]);
  }
  for (const group of byPath.values()) {
    const path = group[0]!.path;
    const testers: LeafTester[] = [];
    let needsString = false;
    for (const leaf of group) {
      if (!isLeafTestName(leaf.test) || OPAQUE_TESTS.has(leaf.test) || usesReference(leaf.arg)) continue;
      if (leaf.test === 'regexp') {
        needsString = true;
        continue;
      }
      testers.push(LEAF_TESTS[leaf.test].build(leaf.arg, OPAQUE_ENV));
    }
    const deeper = leaves.some((other) => other.path.length > path.length && path.every((k, i) => other.path[i] === k));
    const fits = (value: unknown) =>
      (!needsString || typeof value === 'string') && (!deeper || isJsonObject(value as JsonValue)) && testers.every((test) => test(value, {}));
    if (!candidates(group).some(fits)) return { ok: false, path };
  }
  return { ok: true };
}

/** Keys of the data at every path (`a`, `a.b`, …; array elements are looked into under the array's path). */
function dataPaths(data: readonly JsonObject[]): Map<string, Set<string>> {
  const children = new Map<string, Set<string>>();
  const visit = (value: JsonValue, prefix: string) => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, prefix);
      return;
    }
    if (!isJsonObject(value)) return;
    for (const [key, child] of Object.entries(value)) {
      const set = children.get(prefix) ?? new Set<string>();
      set.add(key);
      children.set(prefix, set);
      visit(child as JsonValue, prefix ? `${prefix}.${key}` : key);
    }
  };
  for (const item of data) visit(item, '');
  return children;
}

const WORD = /[A-Za-z_$][\w$]*/g;

/** Keys the engine itself puts in data. */
const ENGINE_KEYS = new Set(['$via', '$stash']);

function findNeverMatching(steps: readonly CatalogStep[]): Finding[] {
  const findings: Finding[] = [];
  for (const step of steps) {
    const verdict = satisfiable(topLeaves(step.condition.query).leaves);
    if (verdict.ok) continue;
    const path = formatPath(verdict.path);
    findings.push({ kind: 'never-matches', severity: 'warning', steps: [step.name], paths: [path], message: `${step.name} can never run: its condition's constraints on ${path} contradict each other` });
  }
  return findings;
}

function findUnknownKeys(facts: CatalogFacts): Finding[] {
  const present = dataPaths(facts.data);
  const sourceWords = new Set(Object.values(facts.sources).flatMap((text) => text.match(WORD) ?? []));
  const conditionKeys = new Map<string, Set<string>>();
  for (const step of facts.steps) {
    for (const path of readPaths(step.condition.query)) {
      path.forEach((key, i) => {
        const prefix = path.slice(0, i).join('.');
        conditionKeys.set(prefix, (conditionKeys.get(prefix) ?? new Set()).add(key));
      });
    }
  }
  const byKey = new Map<string, { steps: Set<string>; didYouMean: string | null }>();
  for (const step of facts.steps) {
    for (const path of readPaths(step.condition.query)) {
      for (let i = 0; i < path.length; i++) {
        const key = path[i]!;
        const prefix = path.slice(0, i).join('.');
        if (ENGINE_KEYS.has(key) || present.get(prefix)?.has(key) || sourceWords.has(key)) continue;
        const siblings = [...(present.get(prefix) ?? []), ...[...(conditionKeys.get(prefix) ?? [])].filter((k) => k !== key), ...sourceWords];
        const shown = formatPath(path.slice(0, i + 1));
        const entry = byKey.get(shown) ?? { steps: new Set<string>(), didYouMean: suggestKey(key, siblings) };
        entry.steps.add(step.name);
        byKey.set(shown, entry);
        break;
      }
    }
  }
  return [...byKey.entries()].map(([path, entry]) => {
    const steps = [...entry.steps].sort();
    const hint = entry.didYouMean ? ` (did you mean \`${entry.didYouMean}\`?)` : '';
    return {
      kind: 'unknown-key' as const,
      severity: 'warning' as const,
      steps,
      paths: [path],
      message: `${steps.join(', ')} read${steps.length === 1 ? 's' : ''} ${path}, which no step writes and no sample or scenario holds${hint}`,
      ...(entry.didYouMean ? { didYouMean: entry.didYouMean } : {}),
    };
  });
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** The keys a content source assigns (`.key =`, `key:`), for steps no scenario run was seen with. */
function assignedKeys(source: string): Set<string> {
  const keys = new Set<string>();
  for (const match of source.matchAll(/\.([A-Za-z_$][\w$]*)\s*(?:=(?!=)|\+\+|--|[+\-*/]=)|([A-Za-z_$][\w$]*)\s*:/g)) keys.add((match[1] ?? match[2])!);
  return keys;
}

function findShadowed(facts: CatalogFacts): Finding[] {
  const findings: Finding[] = [];
  for (const step of facts.steps) {
    for (const winner of facts.steps) {
      if (winner === step || !sameSet(winner.condition.constraints, step.condition.constraints) || compareRank(winner, step) >= 0) continue;
      const reads = conditionReads(step.condition.query);
      const observed = facts.observedWrites?.[winner.name];
      let touched: string[];
      if (observed) {
        touched = reads.filter((read) => observed.some((write) => pointersOverlap(read, write)));
      } else {
        const assigned = assignedKeys(facts.sources[winner.name] ?? '');
        touched = reads.filter((read) => read.split('/').slice(1).some((token) => assigned.has(token)));
      }
      if (touched.length === 0) continue;
      const paths = touched.map((pointer) => formatPath(pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))));
      findings.push({
        kind: 'shadowed',
        severity: 'warning',
        steps: [step.name, winner.name],
        paths,
        message: `${step.name} has the same condition as ${winner.name}, which always runs first and writes ${paths.join(', ')} that ${step.name}'s condition reads: ${step.name} runs only if those changes leave it matching`,
      });
    }
  }
  return findings;
}

function findOverlappingWrites(facts: CatalogFacts): Finding[] {
  const observed = facts.observedWrites;
  if (!observed) return [];
  const findings: Finding[] = [];
  const steps = [...facts.steps].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (let i = 0; i < steps.length; i++) {
    for (let j = i + 1; j < steps.length; j++) {
      const a = steps[i]!;
      const b = steps[j]!;
      const writesA = observed[a.name] ?? [];
      const writesB = observed[b.name] ?? [];
      const shared = [...new Set(writesA.filter((w) => writesB.some((v) => pointersOverlap(w, v))).concat(writesB.filter((w) => writesA.some((v) => pointersOverlap(w, v)))))].sort();
      if (shared.length === 0) continue;
      const leavesA = topLeaves(a.condition.query);
      const leavesB = topLeaves(b.condition.query);
      if (!satisfiable([...leavesA.leaves, ...leavesB.leaves]).ok) continue;
      findings.push({
        kind: 'overlapping-writes',
        severity: 'warning',
        steps: [a.name, b.name],
        paths: shared,
        message: `${a.name} and ${b.name} can match the same data and were seen writing ${shared.join(', ')} in scenario runs: the one ranked lower sees or overwrites what the other wrote (with concurrency above 1 it is held and runs again)`,
      });
    }
  }
  return findings;
}

/** Every finding about a catalog, by kind, then step. */
export function analyzeCatalog(facts: CatalogFacts): Finding[] {
  return [...findNeverMatching(facts.steps), ...findShadowed(facts), ...findUnknownKeys(facts), ...findOverlappingWrites(facts)];
}
