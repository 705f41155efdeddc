/**
 * Which parts of the task data a compiled condition looks at, as JSON Pointers. A step of a parallel batch
 * read these paths as surely as any its content read: if an earlier step of the batch writes one of them,
 * the step might not have matched at all had it run after that step. Pure; runs inside the workflow.
 */
import { DATA_TAG } from '../conditions/values';
import { LEAF_OPERATION, LEVEL_OPERATION } from '../conditions/types';
import { isJsonObject, parseDotPath, type JsonObject, type JsonValue } from '../model/json';
import { toPointer } from '../model/patch';

export function conditionReads(query: JsonObject): string[] {
  const reads = new Set<string>();
  collect(query, reads);
  return [...reads].sort();
}

function collect(query: JsonValue, reads: Set<string>): void {
  if (!isJsonObject(query)) return;
  for (const item of Array.isArray(query.$and) ? query.$and : []) {
    if (!isJsonObject(item)) continue;
    const leaf = item[LEAF_OPERATION];
    if (isJsonObject(leaf) && Array.isArray(leaf.path)) {
      reads.add(toPointer(leaf.path.map(String)));
      // `$data` references point into the task data from anywhere, sub-queries included.
      // Sub-query tests (array elements, `$not`) look only inside the value at the leaf's own path.
      referencesIn(leaf.arg ?? null, reads);
      continue;
    }
    // A group ($or / $nor): its branches are queries over the same subject.
    for (const [key, branches] of Object.entries(item)) {
      if (key === LEVEL_OPERATION || !Array.isArray(branches)) continue;
      for (const branch of branches) collect(branch, reads);
    }
  }
}

function referencesIn(value: JsonValue, reads: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) referencesIn(item, reads);
    return;
  }
  if (!isJsonObject(value)) return;
  const reference = value[DATA_TAG];
  const tokens = typeof reference === 'string' && Object.keys(value).length === 1 ? parseDotPath(reference) : null;
  if (tokens) {
    reads.add(toPointer(tokens));
    return;
  }
  for (const item of Object.values(value)) referencesIn(item ?? null, reads);
}
