import type { JsonObject } from '../model/json';
import { childPointer } from '../model/patch';

/**
 * Records which parts of the task data step content reads (or assigns: an assignment that leaves a value as
 * it was makes no patch, yet depends on it), so that steps run side by side on one snapshot can be checked
 * against each other's writes (docs/semantics.md, "Parallel batches").
 *
 * `data` becomes a proxy over a private copy. Reading a primitive, a missing key or an array records its
 * JSON Pointer; listing an object's keys (`Object.keys`, spreading, `JSON.stringify`) records the object's
 * own pointer. Arrays are read and written as a whole, as patches treat them. Navigating through an object
 * (`data.order` on the way to `data.order.id`) records nothing by itself.
 */
export interface ReadTracker {
  data: JsonObject;
  /** The pointers read, without any that lie inside another one; at most MAX_READS (else coarser). */
  reads(): string[];
  /** Stops recording: what the engine reads after the content returned is not the step's reading. */
  stop(): void;
}

/** Beyond this many paths a step's reads are kept per top-level key, to keep the step's result small. */
export const MAX_READS = 500;

export function trackReads(data: JsonObject): ReadTracker {
  const reads = new Set<string>();
  let recording = true;
  const note = (pointer: string) => {
    if (recording) reads.add(pointer);
  };
  const proxies = new WeakMap<object, object>();
  const isProxy = new WeakSet<object>();

  const wrap = (value: unknown, pointer: string): unknown => {
    if (typeof value !== 'object' || value === null || isProxy.has(value)) return value;
    if (Array.isArray(value)) {
      note(pointer);
      return value;
    }
    const known = proxies.get(value);
    if (known) return known;
    const child = (key: string) => childPointer(pointer, key);
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        const found: unknown = Reflect.get(target, key, receiver);
        if (typeof key === 'symbol') return found;
        if (!Object.hasOwn(target, key)) {
          // A missing key is a read too (a step that checks `if (!data.x)` depends on x staying absent).
          if (found === undefined) note(child(key));
          return found;
        }
        if (typeof found === 'object' && found !== null) return wrap(found, child(key));
        note(child(key));
        return found;
      },
      // An assignment or deletion is recorded too, even when it leaves the value as it was: run after an
      // earlier step that changed the value, it would change it back. (The target as receiver keeps
      // assignment from looking the key up through the proxy.)
      set(target, key, value) {
        if (typeof key === 'string') note(child(key));
        return Reflect.set(target, key, value);
      },
      deleteProperty(target, key) {
        if (typeof key === 'string') note(child(key));
        return Reflect.deleteProperty(target, key);
      },
      defineProperty(target, key, descriptor) {
        if (typeof key === 'string') note(child(key));
        return Reflect.defineProperty(target, key, descriptor);
      },
      has(target, key) {
        if (typeof key === 'string') note(child(key));
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        note(pointer);
        return Reflect.ownKeys(target);
      },
      getOwnPropertyDescriptor(target, key) {
        if (typeof key === 'string') note(child(key));
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
    });
    proxies.set(value, proxy);
    isProxy.add(proxy);
    return proxy;
  };

  return {
    data: wrap(data, '') as JsonObject,
    reads: () => minimalPointers([...reads]),
    stop: () => {
      recording = false;
    },
  };
}

/** Sorted, unique, and without pointers that lie inside another one of the list; coarser when very long. */
export function minimalPointers(pointers: string[]): string[] {
  // Shorter pointers first, so that every ancestor is kept (or not) before its descendants are looked at.
  const byDepth = [...new Set(pointers)].sort((a, b) => a.split('/').length - b.split('/').length);
  const kept = new Set<string>();
  for (const pointer of byDepth) {
    const tokens = pointer.split('/');
    let covered = false;
    for (let i = 1; i < tokens.length && !covered; i++) covered = kept.has(tokens.slice(0, i).join('/'));
    if (!covered) kept.add(pointer);
  }
  const list = [...kept].sort();
  if (list.length <= MAX_READS) return list;
  return minimalPointers(list.map((pointer) => pointer.split('/').slice(0, 2).join('/')));
}
