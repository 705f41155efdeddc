/**
 * The patch a step's run produced: rfc6902 JSON Patch, restricted to add/remove/replace.
 *
 * Arrays are never diffed element-wise: an array that changed in any way is one `replace` (or
 * `add`) of the whole array. Patch paths then never index into an array, so merging concurrent
 * patches and detecting their conflicts is exact, and applying part of a patch never shifts indices.
 */
import { createPatch, type Operation, type Pointer } from 'rfc6902';
import { copyJson, DataPatchError, hasProtoKey, pathTokens, SKIPPED_TOKENS } from '../model/apply-patch';
import type { JsonObject, JsonValue } from '../model/json';
import type { DataOperation, DataPatch } from '../model/patch';

export type { DataOperation, DataPatch } from '../model/patch';
// Applying patches is pure and lives with the model, where the workflow can use it.
export { applyPatchTo, changedPaths, DataPatchError, pathTokens } from '../model/apply-patch';

export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

/** The createPatch hook: whole-value ops for arrays and for keys rfc6902 cannot descend into. */
function coarseDiff(input: JsonValue, output: JsonValue, ptr: Pointer): Operation[] | undefined {
  const last = ptr.tokens.length > 1 ? ptr.tokens[ptr.tokens.length - 1] : undefined;
  const opaque = last !== undefined && SKIPPED_TOKENS.has(last);
  if (opaque || Array.isArray(input) || Array.isArray(output)) {
    return jsonEqual(input, output) ? [] : [{ op: 'replace', path: ptr.toString(), value: output }];
  }
  return undefined; // objects key by key, primitives compared: rfc6902's own diff
}

/**
 * The patch that turns `before` into `after`: objects key by key (recursively), arrays as a
 * whole. Op values are copies, so the patch does not alias `after`.
 */
export function diffData(before: JsonObject, after: JsonObject): DataPatch {
  const ops = createPatch(before, after, coarseDiff);
  return ops.map((op): DataOperation => {
    if (op.op === 'remove') return { op: 'remove', path: op.path };
    if (op.op !== 'add' && op.op !== 'replace') {
      throw new DataPatchError(`unexpected ${op.op} operation in a data diff`, op.path);
    }
    const value = op.value as JsonValue;
    if (pathTokens(op.path).includes('__proto__') || hasProtoKey(value)) {
      throw new DataPatchError(
        `cannot patch the key __proto__ (at ${op.path}); task data may not use it`,
        op.path,
      );
    }
    return { op: op.op, path: op.path, value: copyJson(value) };
  });
}

