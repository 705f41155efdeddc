/**
 * JSON values: the only kind of value task data, step results and history payloads hold, with the
 * few operations every layer needs (equality, copies, how a place in a value is written in messages).
 * Pure functions: safe inside the Temporal workflow sandbox.
 */
export type JsonPrimitive = null | boolean | number | string;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON values: object key order does not matter, array order does. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((k) => Object.hasOwn(right, k) && jsonEqual(left[k], right[k]));
}

/** JSON text with object keys sorted: values that are jsonEqual give identical strings. */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as JsonValue)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A deep copy of a JSON value; keys holding `undefined` are left out. */
export function copyJson<T extends JsonValue>(value: T): T;
export function copyJson(value: JsonValue): JsonValue {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson);
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (item === undefined) continue;
    // Assigning `__proto__` would set the prototype; keep such a key (from outside data) as data.
    if (key === '__proto__') {
      Object.defineProperty(out, key, { value: copyJson(item), enumerable: true, writable: true, configurable: true });
    } else {
      out[key] = copyJson(item);
    }
  }
  return out;
}

/**
 * The keys of a dot path as users write them (`into: "crm.contact"`, `{ $data: 'order.total' }`,
 * `order.items.0.sku`); null when it is empty or has an empty segment.
 */
export function parseDotPath(path: string): string[] | null {
  if (path.length === 0) return null;
  const segments = path.split('.');
  return segments.every((s) => s.length > 0) ? segments : null;
}

/** One step into a JSON value: an object key, or an array index. */
export type JsonPathSegment = string | number;

/** Keys written after a dot; any other key is written in brackets, quoted as a JSON string. */
const PLAIN_KEY = /^[A-Za-z_$][\w$]*$/;

/**
 * The one way a place in a JSON or YAML value is written in messages: `order.items[0]["odd key"]`,
 * after `root` when given (`data.order`, `data["odd key"]`). Indexes in brackets, identifier keys after
 * a dot, any other key quoted in brackets. The root itself is `root` (empty by default). zod issue paths
 * (`issue.path`) are formatted with it too.
 */
export function formatJsonPath(segments: readonly (JsonPathSegment | symbol)[], root = ''): string {
  let out = root;
  for (const segment of segments) {
    // zod issue paths may hold symbols; JSON never does, so they only show up in bug reports.
    if (typeof segment === 'symbol') out += `[${String(segment)}]`;
    else if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** A path formatted by formatJsonPath inside another (`steps[2]` + `name` → `steps[2].name`; `condition` + `[0]` → `condition[0]`). */
export function joinJsonPaths(outer: string, inner: string): string {
  if (!outer) return inner;
  if (!inner) return outer;
  return inner.startsWith('[') ? `${outer}${inner}` : `${outer}.${inner}`;
}
