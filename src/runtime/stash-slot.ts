import { isJsonObject, type JsonObject } from '../model/json';

/**
 * `data.$stash.apiKey = "…"` works on data that has no `$stash` yet: the key is there, empty, as soon as
 * step content reads or writes it. Until then it is invisible (not enumerable: `Object.keys(data)` and
 * JSON do not show it), and an empty `$stash` the step created is dropped again afterwards.
 */
export function offerStash<T>(data: T): T {
  if (!isJsonObject(data) || Object.hasOwn(data, '$stash')) return data;
  const materialize = (target: object, value: unknown) => {
    Object.defineProperty(target, '$stash', { value, writable: true, enumerable: true, configurable: true });
    return value;
  };
  Object.defineProperty(data, '$stash', {
    configurable: true,
    enumerable: false,
    get(this: object) {
      return materialize(this, {});
    },
    set(this: object, value: unknown) {
      materialize(this, value);
    },
  });
  return data;
}

/** The data without a `$stash` that is empty and was not there before the step. */
export function dropUnusedStash(after: JsonObject, before: JsonObject): JsonObject {
  const stash = after.$stash;
  if (Object.hasOwn(before, '$stash') || !isJsonObject(stash) || Object.keys(stash).length > 0) return after;
  const { $stash: _unused, ...rest } = after;
  return rest;
}
