/**
 * Changes to task data, and applying them. Two kinds exist:
 * - a step's patch: rfc6902 JSON Patch restricted to add/remove/replace, computed by diffData after a
 *   step ran and applied by the workflow with applyPatchTo;
 * - an update from outside: an RFC 7386 JSON Merge Patch (applyMergePatch).
 *
 * Arrays are never diffed element-wise: an array that changed in any way is one `replace` (or
 * `add`) of the whole array. Patch paths then never index into an array, so merging concurrent
 * patches and detecting their conflicts is exact, and applying part of a patch never shifts indices.
 * Pure functions: safe inside the Temporal workflow sandbox.
 */
import { createPatch, type Operation, type Pointer } from 'rfc6902';
import { brandError, WhenflowError } from './errors';
import { copyJson, isJsonObject, jsonEqual, type JsonObject, type JsonValue } from './json';

/** One change to task data (RFC 6902 subset). Paths never index into arrays: a changed array is replaced whole. */
export type DataOperation =
  | { op: 'add'; path: string; value: JsonValue }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: JsonValue };

/** What a step changed: the only data a step activity sends back to the workflow. */
export type DataPatch = DataOperation[];

/** One JSON Pointer token for a key (`a/b` → `a~1b`, `~` → `~0`), as RFC 6901 spells it. */
export const escapePointerToken = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** The key a JSON Pointer token stands for (the inverse of escapePointerToken). */
export const unescapePointerToken = (token: string): string => token.replace(/~1/g, '/').replace(/~0/g, '~');

/** The JSON Pointer of a list of keys (`['a/b', 'c']` → `/a~1b/c`; `[]` → the root, ``). */
export function toPointer(tokens: readonly string[]): string {
  return tokens.map((token) => `/${escapePointerToken(token)}`).join('');
}

/** The JSON Pointer of `key` inside the value at `pointer`. */
export function childPointer(pointer: string, key: string): string {
  return `${pointer}/${escapePointerToken(key)}`;
}

/** A patch that cannot be computed or applied; `path` is the JSON Pointer concerned. */
export class DataPatchError extends WhenflowError {
  static {
    brandError(DataPatchError, 'DataPatchError');
  }

  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/**
 * rfc6902 skips these pointer tokens when resolving a path (its prototype-pollution guard), so a
 * pointer that goes *through* one of them lands on the wrong object. As the last token,
 * `constructor`/`prototype` still work; `__proto__` never does, so task data may not use it.
 */
const SKIPPED_TOKENS = new Set(['__proto__', 'constructor', 'prototype']);

function hasProtoKey(value: JsonValue): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasProtoKey);
  return Object.keys(value).some((k) => k === '__proto__' || hasProtoKey(value[k] as JsonValue));
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
      throw new DataPatchError(`cannot patch the key __proto__ (at ${op.path}); task data may not use it`, op.path);
    }
    return { op: op.op, path: op.path, value: copyJson(value) };
  });
}

/** Unescaped tokens of a JSON Pointer, without the leading empty one (`/a~1b/c` → `a/b`, `c`). */
export function pathTokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new DataPatchError(`invalid JSON Pointer "${pointer}"`, pointer);
  return pointer.slice(1).split('/').map(unescapePointerToken);
}

/** The JSON Pointers a patch writes, sorted and unique. */
export function changedPaths(patch: readonly DataOperation[]): string[] {
  return [...new Set(patch.map((op) => op.path))].sort();
}

/** Patches arrive from activities over the wire, so their shape is checked, not trusted. */
function checkOperation(candidate: DataOperation, index: number): void {
  const op: { op?: unknown; path?: unknown; value?: unknown } | null = candidate;
  const where = `operation ${index} (${String(op?.op)} ${String(op?.path)})`;
  if (op === null || typeof op !== 'object' || typeof op.path !== 'string') {
    throw new DataPatchError(`${where}: not an operation with a string path`, '');
  }
  const path = op.path;
  if (op.op !== 'add' && op.op !== 'remove' && op.op !== 'replace') {
    throw new DataPatchError(`${where}: only add, remove and replace are allowed`, path);
  }
  if (op.op !== 'remove' && !Object.hasOwn(op, 'value')) {
    throw new DataPatchError(`${where}: has no value`, path);
  }
  const tokens = pathTokens(path);
  if (tokens.length === 0) {
    throw new DataPatchError(`${where}: the root of data cannot be replaced or removed`, path);
  }
  tokens.forEach((token, i) => {
    const last = i === tokens.length - 1;
    if (token === '__proto__' || (!last && SKIPPED_TOKENS.has(token))) {
      throw new DataPatchError(`${where}: the path cannot go through the key "${token}"`, path);
    }
  });
  if (op.op !== 'remove' && hasProtoKey(op.value as JsonValue)) {
    throw new DataPatchError(`${where}: the value holds the key __proto__`, path);
  }
}

const INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * Why `op` cannot apply to `root`, checked on own properties only: rfc6902 resolves pointers with
 * plain property reads, so `/toString/x` would otherwise write onto a built-in function.
 */
function targetProblem(root: JsonObject, op: DataOperation): string | undefined {
  const tokens = pathTokens(op.path);
  let node: JsonValue | undefined = root;
  for (const [i, token] of tokens.entries()) {
    const last = i === tokens.length - 1;
    if (Array.isArray(node)) {
      if (last && op.op === 'add' && (token === '-' || (INDEX.test(token) && Number(token) <= node.length))) {
        return undefined;
      }
      if (!INDEX.test(token) || Number(token) >= node.length) return `no element ${token} in the array`;
      node = node[Number(token)];
    } else if (isJsonObject(node)) {
      if (!Object.hasOwn(node, token)) {
        return last && op.op === 'add' ? undefined : `no key "${token}"`;
      }
      node = node[token];
    } else {
      return `the value holding "${token}" is not an object or array`;
    }
  }
  return undefined;
}

/** A copy of `node` this application may change; a container copied once is changed in place afterwards. */
function writable<T extends JsonObject | JsonValue[]>(node: T, copies: Set<object>): T {
  if (copies.has(node)) return node;
  // Spreading defines own properties, so an own `__proto__` key of outside data stays data.
  const copy = (Array.isArray(node) ? [...node] : { ...node }) as T;
  copies.add(copy);
  return copy;
}

/** Index of an array token that targetProblem accepted (`-` appends). */
function arrayIndex(array: JsonValue[], token: string): number {
  return token === '-' ? array.length : Number(token);
}

/** Applies one checked op: copies the containers along its path (once), shares everything else. */
function applyCopying(root: JsonObject, op: DataOperation, copies: Set<object>): JsonObject {
  const tokens = pathTokens(op.path);
  const top = writable(root, copies);
  let container: JsonObject | JsonValue[] = top;
  for (const token of tokens.slice(0, -1)) {
    const child = (Array.isArray(container) ? container[Number(token)] : container[token]) as JsonObject | JsonValue[];
    const copy = writable(child, copies);
    if (Array.isArray(container)) container[Number(token)] = copy;
    else container[token] = copy;
    container = copy;
  }
  const last = tokens[tokens.length - 1]!;
  const value = op.op === 'remove' ? undefined : copyJson(op.value);
  if (Array.isArray(container)) {
    const index = arrayIndex(container, last);
    if (op.op === 'add') container.splice(index, 0, value!);
    else if (op.op === 'replace') container[index] = value!;
    else container.splice(index, 1);
  } else if (op.op === 'remove') {
    delete container[last];
  } else {
    container[last] = value!;
  }
  return top;
}

/**
 * Applies `patch` to `data` and returns the result; `data` is not changed. Only the objects and arrays
 * on the ops' paths are copied and the rest is shared with `data` (task data is never changed in place),
 * so applying a patch costs what the patch touches, not what the data holds. Op values are copied, so
 * the result does not alias the patch. Throws a DataPatchError naming the first operation that fails
 * (e.g. its path does not exist).
 */
export function applyPatchTo(data: JsonObject, patch: readonly DataOperation[]): JsonObject {
  patch.forEach(checkOperation);
  const copies = new Set<object>();
  let result = data;
  patch.forEach((op, index) => {
    // One op at a time, so the first failure stops the rest and is reported by index.
    const failure = targetProblem(result, op);
    if (failure !== undefined) {
      throw new DataPatchError(`cannot apply operation ${index} (${op.op} ${op.path}): ${failure}`, op.path);
    }
    result = applyCopying(result, op, copies);
  });
  return result;
}

/** RFC 7386 JSON Merge Patch: objects merge recursively, `null` deletes, anything else replaces. */
export function applyMergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}
