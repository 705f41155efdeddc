/**
 * Path navigation for conditions. Two kinds of path exist:
 * - pattern paths (where a leaf constraint looks): walk plain objects only, never arrays
 *   (arrays are matched by array patterns and `$elemMatch`, not traversed);
 * - `$data` references (root-relative dot paths): walk objects, index arrays with numeric
 *   segments, and read `length` of arrays and strings.
 * Both yield `undefined` as soon as a segment cannot be followed.
 * Pure functions: safe inside the Temporal workflow sandbox.
 */
import type { JsonValue } from '../model/json';

export type Path = readonly string[];

const hasOwn = Object.prototype.hasOwnProperty;

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value a pattern leaf at `path` looks at; `undefined` when a step is missing or not an object. */
export function valueAt(subject: unknown, path: Path): unknown {
  let current = subject;
  for (let i = 0; i < path.length; i++) {
    if (!isPlainRecord(current)) return undefined;
    const key = path[i] as string;
    if (!hasOwn.call(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

/**
 * A nested pattern describes an object: its leaves apply only when every level above the leaf is an
 * object. So `{ approval: { approved: null } }` needs an `approval` object, and does not match `{}`.
 */
export function parentIsObject(subject: unknown, path: Path): boolean {
  let current = subject;
  for (let i = 0; i < path.length; i++) {
    if (!isPlainRecord(current)) return false;
    if (i === path.length - 1) return true;
    const key = path[i] as string;
    current = hasOwn.call(current, key) ? current[key] : undefined;
  }
  return true;
}

const INDEX = /^(0|[1-9][0-9]*)$/;

/** Resolves a parsed `$data` path against the task data; `undefined` when missing. */
export function resolveReference(root: unknown, segments: Path): JsonValue | undefined {
  let current: unknown = root;
  for (let i = 0; i < segments.length; i++) {
    const key = segments[i] as string;
    if (Array.isArray(current)) {
      if (key === 'length') current = current.length;
      else if (INDEX.test(key)) current = current[Number(key)];
      else return undefined;
    } else if (typeof current === 'string') {
      if (key !== 'length') return undefined;
      current = current.length;
    } else if (isPlainRecord(current)) {
      if (!hasOwn.call(current, key)) return undefined;
      current = current[key];
    } else {
      return undefined;
    }
    if (current === undefined) return undefined;
  }
  return current as JsonValue | undefined;
}
