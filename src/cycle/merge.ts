/**
 * Merge step of the cycle (SEMANTICS.md "The cycle", item 4): the patches of the steps that ran
 * concurrently on one snapshot are applied in rank order; where a later patch writes a path that
 * equals, contains or lies inside a path an earlier patch wrote, the earlier write stands and the
 * later op is dropped and recorded as a conflict.
 *
 * Runs inside the Temporal workflow: pure and deterministic (no I/O, clock or randomness).
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../model/json';
import { applyPatchTo, changedPaths, pathTokens, type DataOperation, type DataPatch } from '../runtime/diff';

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
