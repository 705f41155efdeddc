import { isJsonObject, parseDotPath, type JsonObject, type JsonValue } from '../model/json';

/** `companies.3.research` → ['companies', '3', 'research']. Used for `into` paths of subtasks and connector calls. */
export function dotPathSegments(path: string): string[] {
  const segments = parseDotPath(path);
  if (segments === null) throw new Error(`"${path}" is not a path (use dot-separated keys, e.g. "crm.contact")`);
  return segments;
}

/**
 * Returns a copy of `data` with `value` written at the dot path: missing or non-object parents become
 * objects; a numeric segment indexes an existing array. Only the objects along the path are copied.
 */
export function setAtPath(data: JsonObject, path: string, value: JsonValue): JsonObject {
  const segments = dotPathSegments(path);
  const write = (node: JsonValue | undefined, depth: number): JsonValue => {
    if (depth === segments.length) return value;
    const key = segments[depth]!;
    if (Array.isArray(node) && /^\d+$/.test(key) && Number(key) < node.length) {
      const copy = [...node];
      copy[Number(key)] = write(copy[Number(key)], depth + 1);
      return copy;
    }
    const base = isJsonObject(node) ? node : {};
    return { ...base, [key]: write(base[key], depth + 1) };
  };
  return write(data, 0) as JsonObject;
}
