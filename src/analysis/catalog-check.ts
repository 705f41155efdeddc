/**
 * Catalog analysis: problems of a step catalog that no single step file shows. Pure: what the steps'
 * sources, the sample and scenario data, and the writes observed in scenario runs say comes in as input.
 *
 * - never-matches: a condition whose constraints contradict each other (`status: 'a'` and `$ne: 'a'`).
 * - shadowed: a step whose condition implies another's (the same, or the other more general) while the
 *   other always acts first and writes what the step's condition reads (or can complete the task), so
 *   the step can run only if those changes leave its condition matching.
 * - unknown-key: a key a condition reads that no step writes and no sample or scenario holds (a typo,
 *   most often), with the key one edit away when there is one.
 * - unwritten-key: a key a condition reads that step code mentions but never assigns (as far as its
 *   text shows) and no sample or scenario holds: only data from outside the steps can bring it.
 * - overlapping-writes: two steps that can match the same data and were seen writing the same paths.
 */
import { LEAF_TESTS, isLeafTestName, type LeafEnv, type LeafTester } from '../conditions/leaf-tests';
import { LEAF_OPERATION, LEVEL_OPERATION } from '../conditions/types';
import { conditionReads } from '../cycle/condition-reads';
import { pointersOverlap } from '../cycle/merge';
import { compareRank } from '../cycle/select';
import { suggestKey } from '../explain/explain';
import { conditionImplies } from './implication';
import { formatJsonPath, isJsonObject, type JsonObject, type JsonValue } from '../model/json';
import type { CatalogStep } from '../model/task';
import { pathTokens } from '../model/patch';

export type FindingKind = 'never-matches' | 'shadowed' | 'unknown-key' | 'unwritten-key' | 'overlapping-writes';

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
      (!needsString || typeof value === 'string') &&
      (!deeper || isJsonObject(value as JsonValue)) &&
      testers.every((test) => test(value, {}));
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
    const path = formatJsonPath(verdict.path);
    findings.push({
      kind: 'never-matches',
      severity: 'warning',
      steps: [step.name],
      paths: [path],
      message: `${step.name} can never run: its condition's constraints on ${path} contradict each other`,
    });
  }
  return findings;
}

/**
 * What the steps' code may write, approximated from its text: keys assigned (`.key =`, `key:` in an
 * object literal), keys named in string literals (`into: 'order.quote'`, `data['key'] =`), and paths
 * under which any key may appear (`data.a.b = someValue`, `data.a[k] =`, a connector or subtask result
 * `into` a path). `anything` when code writes in ways the text does not show (`Object.assign`, spreads).
 */
interface WriteModel {
  keys: Set<string>;
  openPaths: string[][];
  anything: boolean;
}

/** A right-hand side whose keys the text shows: a literal, or an object or array literal. */
const LITERAL_START = /^(?:\{|\[|['"`\d-]|true\b|false\b|null\b)/;

function writeModel(sources: readonly string[]): WriteModel {
  const model: WriteModel = { keys: new Set(), openPaths: [], anything: false };
  for (const source of sources) {
    for (const key of assignedKeys(source)) model.keys.add(key);
    for (const match of source.matchAll(/(['"`])((?:(?!\1)[^\\\n])*)\1/g))
      for (const token of match[2]!.match(WORD) ?? []) model.keys.add(token);
    for (const match of source.matchAll(/\bdata((?:\.[A-Za-z_$][\w$]*)+)\s*(=(?!=)\s*(.{0,10})|\[)/g)) {
      const path = match[1]!.slice(1).split('.');
      if (match[2] === '[' || !LITERAL_START.test(match[3] ?? '')) model.openPaths.push(path);
    }
    for (const match of source.matchAll(/\binto\s*:\s*(['"`])([^'"`]*)\1/g)) model.openPaths.push(match[2]!.split('.'));
    if (/Object\.assign\s*\(|[{,]\s*\.\.\.|\bdata\s*\[/.test(source)) model.anything = true;
  }
  return model;
}

/** Whether the key at `path[index]` sits under a path any key may be written to. */
const underOpenPath = (model: WriteModel, path: readonly string[], index: number) =>
  model.openPaths.some((open) => open.length <= index && open.every((key, i) => path[i] === key));

const mayBeWritten = (model: WriteModel, path: readonly string[], index: number) =>
  model.anything || model.keys.has(path[index]!) || underOpenPath(model, path, index);

function findUnknownKeys(facts: CatalogFacts): Finding[] {
  const present = dataPaths(facts.data);
  const sourceWords = new Set(Object.values(facts.sources).flatMap((text) => text.match(WORD) ?? []));
  const writes = writeModel(Object.values(facts.sources));
  const conditionKeys = new Map<string, Set<string>>();
  for (const step of facts.steps) {
    for (const path of readPaths(step.condition.query)) {
      path.forEach((key, i) => {
        const prefix = path.slice(0, i).join('.');
        conditionKeys.set(prefix, (conditionKeys.get(prefix) ?? new Set()).add(key));
      });
    }
  }
  const byKey = new Map<string, { kind: 'unknown-key' | 'unwritten-key'; steps: Set<string>; didYouMean: string | null }>();
  for (const step of facts.steps) {
    for (const path of readPaths(step.condition.query)) {
      for (let i = 0; i < path.length; i++) {
        const key = path[i]!;
        const prefix = path.slice(0, i).join('.');
        if (ENGINE_KEYS.has(key) || present.get(prefix)?.has(key) || underOpenPath(writes, path, i)) continue;
        // Mentioned in code but never assigned there: only data from outside can bring it.
        const kind = !sourceWords.has(key) ? 'unknown-key' : mayBeWritten(writes, path, i) ? null : 'unwritten-key';
        if (kind === null) continue;
        const siblings = [
          ...(present.get(prefix) ?? []),
          ...[...(conditionKeys.get(prefix) ?? [])].filter((k) => k !== key),
          ...(kind === 'unknown-key' ? sourceWords : []),
        ];
        const shown = formatJsonPath(path.slice(0, i + 1));
        const entry = byKey.get(shown) ?? { kind, steps: new Set<string>(), didYouMean: suggestKey(key, siblings) };
        entry.steps.add(step.name);
        byKey.set(shown, entry);
        break;
      }
    }
  }
  return [...byKey.entries()].map(([path, entry]) => {
    const steps = [...entry.steps].sort();
    const hint = entry.didYouMean ? ` (did you mean \`${entry.didYouMean}\`?)` : '';
    const reads = `${steps.join(', ')} read${steps.length === 1 ? 's' : ''} ${path}`;
    return {
      kind: entry.kind,
      severity: 'warning' as const,
      steps,
      paths: [path],
      message:
        entry.kind === 'unknown-key'
          ? `${reads}, which no step writes and no sample or scenario holds${hint}`
          : `${reads}, which step code mentions but never assigns and no sample or scenario holds: only task data or an update from outside can bring it${hint}`,
      ...(entry.didYouMean ? { didYouMean: entry.didYouMean } : {}),
    };
  });
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function isStrictSubset(small: readonly string[], large: readonly string[]): boolean {
  return small.length < large.length && small.every((x) => large.includes(x));
}

/** The keys a content source assigns (`.key =`, `key:`), for steps no scenario run was seen with. */
function assignedKeys(source: string): Set<string> {
  const keys = new Set<string>();
  for (const match of source.matchAll(/\.([A-Za-z_$][\w$]*)\s*(?:=(?!=)|\+\+|--|[+\-*/]=)|([A-Za-z_$][\w$]*)\s*:/g))
    keys.add((match[1] ?? match[2])!);
  return keys;
}

/** Whether a content source can complete the task (`step.complete(…)`). */
const mayComplete = (source: string) => /\.complete\s*\(/.test(source);

/**
 * Whether `winner` acts before `step` in every cycle both match (concurrency 1): `step` is not the more
 * specific one (which would hold `winner` back), `winner` ranks first, and every step that could hold
 * `winner` back as less specific holds `step` back too.
 */
function alwaysActsFirst(winner: CatalogStep, step: CatalogStep, steps: readonly CatalogStep[]): boolean {
  const w = winner.condition.constraints;
  const s = step.condition.constraints;
  if (isStrictSubset(w, s)) return false;
  if (!isStrictSubset(s, w) && compareRank(winner, step) >= 0) return false;
  return steps.every((other) => !isStrictSubset(w, other.condition.constraints) || isStrictSubset(s, other.condition.constraints));
}

/**
 * A step never gets its turn while another step that matches whenever it matches (the same condition,
 * or a more general one: conditionImplies) always acts first — unless what that step writes makes the
 * first stop matching, or it completes the task. Reported when the winner writes what the step reads
 * (observed in scenario runs, else assigned in its source) or can complete the task.
 */
function findShadowed(facts: CatalogFacts): Finding[] {
  const findings: Finding[] = [];
  for (const step of facts.steps) {
    for (const winner of facts.steps) {
      if (winner === step || !alwaysActsFirst(winner, step, facts.steps)) continue;
      const same = sameSet(winner.condition.constraints, step.condition.constraints);
      if (!same && !conditionImplies(step.condition, winner.condition)) continue;
      const reads = conditionReads(step.condition.query);
      const source = facts.sources[winner.name] ?? '';
      const observed = facts.observedWrites?.[winner.name];
      let touched: string[];
      if (observed) {
        touched = reads.filter((read) => observed.some((write) => pointersOverlap(read, write)));
      } else {
        const assigned = assignedKeys(source);
        touched = reads.filter((read) =>
          read
            .split('/')
            .slice(1)
            .some((token) => assigned.has(token)),
        );
      }
      const completes = mayComplete(source);
      if (touched.length === 0 && !completes) continue;
      const paths = touched.map((pointer) => formatJsonPath(pathTokens(pointer)));
      const effects = [
        ...(paths.length > 0 ? [`writes ${paths.join(', ')} that ${step.name}'s condition reads`] : []),
        ...(completes ? ['can complete the task'] : []),
      ].join(' and ');
      const unless = [
        ...(paths.length > 0 ? ['those changes leave it matching'] : []),
        ...(completes ? [`${winner.name} does not complete the task`] : []),
      ].join(' and ');
      findings.push({
        kind: 'shadowed',
        severity: 'warning',
        steps: [step.name, winner.name],
        paths,
        message: same
          ? `${step.name} has the same condition as ${winner.name}, which always runs first and ${effects}: ${step.name} runs only if ${unless}`
          : `${step.name} matches only data that ${winner.name}'s more general condition matches too, and ${winner.name} always runs first and ${effects}: ${step.name} runs only if ${unless}`,
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
      const shared = [
        ...new Set(
          writesA
            .filter((w) => writesB.some((v) => pointersOverlap(w, v)))
            .concat(writesB.filter((w) => writesA.some((v) => pointersOverlap(w, v)))),
        ),
      ].sort();
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
