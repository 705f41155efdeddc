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

function describe(descriptor: PropertyDescriptor): Descriptor {
  return [descriptor.value, descriptor.get, descriptor.set, descriptor.writable, descriptor.enumerable, descriptor.configurable];
}

function keyName(key: string | symbol): string {
  return typeof key === 'symbol' ? `[${key.description ?? 'symbol'}]` : key;
}

/** Every property (and its descriptor) of the objects above, by a readable path. */
export type RealmSnapshot = Map<string, Descriptor>;

export function snapshotRealm(): RealmSnapshot {
  const snapshot: RealmSnapshot = new Map();
  const seen = new Set<object>();
  const record = (target: object, path: string, deep: boolean) => {
    if (seen.has(target)) return;
    seen.add(target);
    snapshot.set(`${path}.[[Prototype]]`, [Object.getPrototypeOf(target)]);
    snapshot.set(`${path}.[[Extensible]]`, [Object.isExtensible(target)]);
    for (const key of Reflect.ownKeys(target)) {
      const name = keyName(key);
      if (target === process && CHURNING.has(name)) continue;
      const descriptor = Reflect.getOwnPropertyDescriptor(target, key);
      if (!descriptor) continue;
      snapshot.set(`${path}.${name}`, describe(descriptor));
      if (!deep) continue;
      const value: unknown = descriptor.value;
      if ((typeof value === 'object' && value !== null) || typeof value === 'function') {
        record(value as object, `${path}.${name}`, false);
        const prototype: unknown = typeof value === 'function' ? (value as { prototype?: unknown }).prototype : undefined;
        if (typeof prototype === 'object' && prototype !== null) record(prototype, `${path}.${name}.prototype`, false);
      }
    }
  };
  record(globalThis, 'globalThis', true);
  hiddenIntrinsics().forEach((intrinsic, i) => record(intrinsic, `intrinsic${i}`, false));
  return snapshot;
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

/** The first path that differs between two snapshots, or null when the realm is as it was. */
export function realmChange(before: RealmSnapshot, after: RealmSnapshot): string | null {
  for (const [path, descriptor] of after) {
    const earlier = before.get(path);
    if (!earlier) return `${path} was added`;
    if (earlier.some((part, i) => !Object.is(part, descriptor[i]))) return `${path} was changed`;
  }
  for (const path of before.keys()) if (!after.has(path)) return `${path} was deleted`;
  return null;
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
