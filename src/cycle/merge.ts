/**
 * Merge step of the cycle: the patches of the steps that ran concurrently on one snapshot are applied in
 * rank order. Under rules 2, mergeBatch (docs/semantics.md "Parallel batches"). Under the older rules
 * (docs/semantics.md "Rules versions"), mergePatches: where a later patch writes a path that equals,
 * contains or lies inside a path an earlier patch wrote, the earlier write stands and the later op is
 * dropped and recorded as a conflict.
 *
 * Runs inside the Temporal workflow: pure and deterministic (no I/O, clock or randomness).
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../model/json';
import { applyPatchTo, changedPaths, childPointer, pathTokens, type DataOperation, type DataPatch } from '../model/patch';

/** One step's patch; the list given to mergePatches is in rank order (index 0 ranks highest). */
export interface StepPatch {
  step: string;
  patch: DataPatch;
}

/** `paths`: JSON Pointers of the dropped step's ops that overlapped the kept step's writes. */
export interface MergeConflict {
  paths: string[];
  kept: string;
  dropped: string;
}

export interface MergeResult {
  data: JsonObject;
  /** Ordered by dropped step's rank, then kept step's rank. */
  conflicts: MergeConflict[];
  /** One entry per patch, in the given order: the paths of the ops that were applied. */
  applied: { step: string; changed: string[] }[];
}

/**
 * The part of the data an op claims, for overlap tests: its path, cut at the first array in the
 * snapshot. diffData never indexes into arrays, but a patch from elsewhere might, and two ops
 * on different indices of one array are not independent (a removal shifts the others).
 */
function footprint(snapshot: JsonObject, path: string): string[] {
  const tokens = pathTokens(path);
  let node: JsonValue | undefined = snapshot;
  for (let i = 0; i < tokens.length; i++) {
    if (Array.isArray(node)) return tokens.slice(0, i);
    const token = tokens[i] as string;
    node = isJsonObject(node) && Object.hasOwn(node, token) ? node[token] : undefined;
  }
  return tokens;
}

/** Equal, ancestor or descendant, compared token by token (`/ab` does not contain `/abc`). */
function overlaps(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function mergePatches(snapshot: JsonObject, patches: StepPatch[]): MergeResult {
  /** Footprints of the ops applied so far, with the rank of the step that wrote them. */
  const written: { rank: number; footprint: string[] }[] = [];
  const conflicts: MergeConflict[] = [];
  const applied: MergeResult['applied'] = [];
  // applyPatchTo never changes its input: `snapshot` stays as the steps saw it, sharing what no patch touched.
  let data = snapshot;

  patches.forEach(({ step, patch }, rank) => {
    const kept: DataOperation[] = [];
    const keptFootprints: string[][] = [];
    /** kept-step rank → paths of this step's ops it blocked */
    const blocked = new Map<number, Set<string>>();
    for (const op of patch) {
      const mine = footprint(snapshot, op.path);
      const winners = written.filter((w) => overlaps(w.footprint, mine));
      if (winners.length === 0) {
        kept.push(op);
        keptFootprints.push(mine);
        continue;
      }
      for (const w of winners) {
        const paths = blocked.get(w.rank) ?? new Set<string>();
        paths.add(op.path);
        blocked.set(w.rank, paths);
      }
    }
    // Recorded after the loop: a step's own ops never conflict with each other.
    for (const f of keptFootprints) written.push({ rank, footprint: f });
    for (const keptRank of [...blocked.keys()].sort((a, b) => a - b)) {
      conflicts.push({
        paths: [...(blocked.get(keptRank) ?? [])].sort(),
        kept: patches[keptRank]?.step ?? '',
        dropped: step,
      });
    }
    if (kept.length > 0) data = applyPatchTo(data, kept);
    applied.push({ step, changed: changedPaths(kept) });
  });

  return { data, conflicts, applied };
}

/** One step of a parallel batch (rules 2): its patch and the JSON Pointers it read (content and condition). */
export interface BatchRun {
  step: string;
  patch: DataPatch;
  reads: readonly string[];
}

/** A step of the batch whose changes were not merged: it met `blockedBy`'s writes at `paths`. */
export interface HeldStep {
  step: string;
  blockedBy: string;
  /** The step's own read and write pointers that overlapped; empty when it ranks after a held step. */
  paths: string[];
}

export interface BatchMerge {
  data: JsonObject;
  /** The steps merged, in rank order, each with the paths it changed. */
  merged: { step: string; changed: string[] }[];
  held: HeldStep[];
}

/**
 * Merges a parallel batch so that the outcome equals running its steps one after another in rank order.
 * A step is merged when nothing it read or wrote overlaps what an earlier step of the batch wrote: then it
 * saw exactly the data it would have seen running after them. The first step that overlaps is held, and so
 * is every step ranked after it, since the held step's second run may change what they would have seen.
 * Held steps keep nothing; the cycle runs them again if they still match.
 */
export function mergeBatch(snapshot: JsonObject, runs: readonly BatchRun[]): BatchMerge {
  const written: { step: string; footprint: string[] }[] = [];
  const merged: BatchMerge['merged'] = [];
  const held: HeldStep[] = [];
  let data = snapshot;
  for (const run of runs) {
    const first = held[0];
    if (first) {
      held.push({ step: run.step, blockedBy: first.step, paths: [] });
      continue;
    }
    const touched = [...run.reads, ...run.patch.map((op) => op.path)].map((pointer) => ({
      pointer,
      footprint: footprint(snapshot, pointer),
    }));
    // `written` is in rank order: the earliest-ranked step met is the one named.
    const blocker = written.find((w) => touched.some((t) => overlaps(w.footprint, t.footprint)));
    if (blocker) {
      const paths = touched
        .filter((t) => written.some((w) => w.step === blocker.step && overlaps(w.footprint, t.footprint)))
        .map((t) => t.pointer);
      held.push({ step: run.step, blockedBy: blocker.step, paths: [...new Set(paths)].sort() });
      continue;
    }
    for (const op of run.patch) written.push({ step: run.step, footprint: footprint(snapshot, op.path) });
    if (run.patch.length > 0) data = applyPatchTo(data, run.patch);
    merged.push({ step: run.step, changed: changedPaths(run.patch) });
  }
  return { data, merged, held };
}

/**
 * The JSON Pointers a JSON Merge Patch (an update from outside) writes: each replaced or deleted leaf,
 * and each object it sets where there was none.
 */
export function mergePatchPointers(patch: JsonObject, prefix = ''): string[] {
  return Object.entries(patch).flatMap(([key, value]) => {
    const pointer = childPointer(prefix, key);
    return isJsonObject(value) && Object.keys(value).length > 0 ? mergePatchPointers(value, pointer) : [pointer];
  });
}

/** Whether two JSON Pointers lie on one path (equal, or one inside the other). */
export function pointersOverlap(a: string, b: string): boolean {
  return overlaps(pathTokens(a), pathTokens(b));
}
