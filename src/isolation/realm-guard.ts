/**
 * What a step execution could leave behind in its thread for the next execution to see: globals, the
 * built-in objects and prototypes (`Object.prototype.toJSON`, `Array.prototype.map`, `JSON.stringify`…),
 * `process`, and timers or sockets that run code after the step has ended. A thread is given to another
 * execution only when none of these changed; otherwise it is retired and a fresh one takes its place.
 */

/** Built-ins that are not reachable as globals by name. */
function hiddenIntrinsics(): object[] {
  const arrayIterator = Object.getPrototypeOf([][Symbol.iterator]()) as object;
  return [
    // biome-ignore lint/complexity/useArrowFunction: spelled like the generator forms below; the prototype is the same
    Object.getPrototypeOf(async function () {}) as object,
    Object.getPrototypeOf(function* () {}) as object,
    Object.getPrototypeOf(async function* () {}) as object,
    Object.getPrototypeOf(Uint8Array) as object,
    (Object.getPrototypeOf(Uint8Array) as { prototype: object }).prototype,
    arrayIterator,
    Object.getPrototypeOf(arrayIterator) as object,
    Object.getPrototypeOf(new Map()[Symbol.iterator]()) as object,
    Object.getPrototypeOf(new Set()[Symbol.iterator]()) as object,
    Object.getPrototypeOf(''[Symbol.iterator]()) as object,
    Object.getPrototypeOf(/x/[Symbol.matchAll]('')) as object,
  ];
}

/** Properties of `process` that Node itself changes while the thread runs. */
const CHURNING = new Set(['_events', '_eventsCount', 'exitCode', '_exiting', 'domain']);

type Descriptor = readonly unknown[];

function keyName(key: string | symbol): string {
  return typeof key === 'symbol' ? `[${key.description ?? 'symbol'}]` : key;
}

/**
 * Walks the objects above in a fixed order: globalThis's own properties, and for each object or function
 * held there its own properties and those of its `prototype`. `visit` gets every property's descriptor.
 */
/** Starts the entry of an object's prototype and extensibility, which property entries (starting with their key) never do. */
const OBJECT_ENTRY = Symbol('object');

function walkRealm(visit: (entry: Descriptor, path: () => string, owner: { target: object; path: () => string }) => void): void {
  const seen = new Set<object>();
  const record = (target: object, path: () => string, deep: boolean) => {
    if (seen.has(target)) return;
    seen.add(target);
    const owner = { target, path };
    visit([target, OBJECT_ENTRY, Object.getPrototypeOf(target), Object.isExtensible(target)], () => `${path()}.[[Prototype]]`, owner);
    for (const key of Reflect.ownKeys(target)) {
      if (target === process && typeof key === 'string' && CHURNING.has(key)) continue;
      const descriptor = Reflect.getOwnPropertyDescriptor(target, key);
      if (!descriptor) continue;
      const at = () => `${path()}.${keyName(key)}`;
      visit(
        [
          target,
          key,
          descriptor.value,
          descriptor.get,
          descriptor.set,
          descriptor.writable,
          descriptor.enumerable,
          descriptor.configurable,
        ],
        at,
        owner,
      );
      if (!deep) continue;
      const value: unknown = descriptor.value;
      if ((typeof value === 'object' && value !== null) || typeof value === 'function') {
        record(value as object, at, false);
        const prototype: unknown = typeof value === 'function' ? (value as { prototype?: unknown }).prototype : undefined;
        if (typeof prototype === 'object' && prototype !== null) record(prototype, () => `${at()}.prototype`, false);
      }
    }
  };
  record(globalThis, () => 'globalThis', true);
  for (const [i, intrinsic] of hiddenIntrinsics().entries()) record(intrinsic, () => `intrinsic${i}`, false);
}

/** Every property descriptor of the realm's globals and built-ins, in walking order. */
export type RealmSnapshot = Descriptor[];

export function snapshotRealm(): RealmSnapshot {
  const parts: Descriptor[] = [];
  walkRealm((entry) => parts.push(entry));
  return parts;
}

/**
 * Whether the realm is exactly as in the snapshot: the same walk, compared as it goes, without building
 * a second snapshot, path names or descriptor lists; it stops at the first difference.
 */
export function realmIntact(before: RealmSnapshot): boolean {
  const seen = new Set<object>();
  let index = 0;
  const matches = (...parts: unknown[]): boolean => {
    const old = before[index++];
    if (!old || old.length !== parts.length) return false;
    for (let i = 0; i < parts.length; i++) if (!Object.is(old[i], parts[i])) return false;
    return true;
  };
  const check = (target: object, deep: boolean): boolean => {
    if (seen.has(target)) return true;
    seen.add(target);
    if (!matches(target, OBJECT_ENTRY, Object.getPrototypeOf(target), Object.isExtensible(target))) return false;
    for (const key of Reflect.ownKeys(target)) {
      if (target === process && typeof key === 'string' && CHURNING.has(key)) continue;
      const descriptor = Reflect.getOwnPropertyDescriptor(target, key);
      if (!descriptor) continue;
      if (
        !matches(
          target,
          key,
          descriptor.value,
          descriptor.get,
          descriptor.set,
          descriptor.writable,
          descriptor.enumerable,
          descriptor.configurable,
        )
      )
        return false;
      if (!deep) continue;
      const value: unknown = descriptor.value;
      if ((typeof value === 'object' && value !== null) || typeof value === 'function') {
        if (!check(value as object, false)) return false;
        const prototype: unknown = typeof value === 'function' ? (value as { prototype?: unknown }).prototype : undefined;
        if (typeof prototype === 'object' && prototype !== null && !check(prototype, false)) return false;
      }
    }
    return true;
  };
  if (!check(globalThis, true)) return false;
  for (const intrinsic of hiddenIntrinsics()) if (!check(intrinsic, false)) return false;
  return index === before.length;
}

/** The first property that differs from the snapshot (as a path), or null when the realm is as it was. */
export function realmChange(before: RealmSnapshot, after: RealmSnapshot = snapshotRealm()): string | null {
  const same = (a: Descriptor | undefined, b: Descriptor | undefined) =>
    !!a && !!b && a.length === b.length && a.every((part, i) => Object.is(part, b[i]));
  if (before.length === after.length && before.every((descriptor, i) => same(descriptor, after[i]))) return null;
  // Something changed: walk again, naming the first difference (slow, and rare).
  const earlier = new Map<unknown, Map<unknown, Descriptor>>();
  for (const entry of before) {
    if (!earlier.has(entry[0])) earlier.set(entry[0], new Map());
    earlier.get(entry[0])!.set(entry[1], entry);
  }
  const paths = new Map<unknown, () => string>();
  let found: string | null = null;
  walkRealm((entry, path, owner) => {
    paths.set(owner.target, owner.path);
    const keys = earlier.get(owner.target);
    const old = keys?.get(entry[1]);
    keys?.delete(entry[1]);
    if (found !== null) return;
    if (!old) found = `${path()} was added`;
    else if (!same(old, entry)) found = `${path()} was changed`;
  });
  if (found !== null) return found;
  for (const [owner, keys] of earlier) {
    for (const key of keys.keys())
      if (key !== OBJECT_ENTRY) return `${paths.get(owner)?.() ?? 'a built-in'}.${keyName(key as string | symbol)} was deleted`;
  }
  return 'a global or built-in was changed';
}

/**
 * Node defines some globals lazily: their first read replaces a getter with the value. Read every global
 * once before the first snapshot, so that a step reading one (`fetch`, `crypto`) does not look like a change.
 */
export function settleLazyGlobals(): void {
  for (const key of Reflect.ownKeys(globalThis)) {
    try {
      void (globalThis as Record<string | symbol, unknown>)[key];
    } catch {
      // A step global read outside a step throws; nothing to settle there.
    }
  }
}

/**
 * Handles and requests that can run code later, counted by kind. Left out: fs requests (they end on their
 * own) and message ports (the module loader opens one for each step file it imports, and keeps it).
 */
export function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind.startsWith('FS') || kind === 'FileHandleCloseReq' || kind === 'MessagePort') continue;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

/** The first kind of resource there is more of than before, or null. */
export function resourcesLeft(before: Map<string, number>, after: Map<string, number>): string | null {
  for (const [kind, count] of after) {
    const earlier = before.get(kind) ?? 0;
    if (count > earlier) return `${count - earlier} ${kind} left running`;
  }
  return null;
}
