/**
 * Checks of a parsed JSON body before it becomes task data: how deep it nests, and keys that name
 * JavaScript's object machinery. A body nested thousands of levels deep overflows the stack of every
 * recursive walk after it (payload conversion, merging, matching); `__proto__`, `constructor` and
 * `prototype` keys change or vanish on the way through the engine (`{ ...body }`, merges), so data
 * would silently differ from what was sent. Both are refused, naming where in the body.
 */
import { formatJsonPath, type JsonPathSegment, type JsonValue } from '../model/json';

/** Keys refused anywhere in a body. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export type JsonShapeProblem = { kind: 'too-deep'; path: string; maxDepth: number } | { kind: 'forbidden-key'; path: string; key: string };

/** `order.items[0]["odd key"]`; `$` for the body itself. */
const bodyPath = (path: readonly JsonPathSegment[]): string => formatJsonPath(path) || '$';

/**
 * The first problem found, walking without recursion (so the walk itself cannot overflow), or null.
 * Depth counts containers: `{}` is 1, `{"a":[]}` is 2.
 */
export function checkJsonShape(value: JsonValue, maxDepth: number): JsonShapeProblem | null {
  const stack: { value: JsonValue; path: JsonPathSegment[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (path.length + 1 > maxDepth) return { kind: 'too-deep', path: bodyPath(path), maxDepth };
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i] as JsonValue, path: [...path, i] });
      continue;
    }
    const keys = Object.keys(current);
    for (const key of keys) {
      if (FORBIDDEN_KEYS.has(key)) return { kind: 'forbidden-key', path: bodyPath([...path, key]), key };
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      stack.push({ value: current[key] as JsonValue, path: [...path, key] });
    }
  }
  return null;
}
