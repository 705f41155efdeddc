import type { JsonObject } from '../model/json';
import { jsonArgs, type ConnectorRegistry } from './registry';
import { ConnectorError, type ConnectorContext } from './types';

export interface DeferredConnectorCall {
  connector: string;
  method: string;
  /** The call's arguments without `into`. */
  args: JsonObject;
  /** Dot path in the task data where the result is written. */
  into: string;
}

export type ConnectorsProxy = Record<string, Record<string, (args?: unknown) => Promise<unknown>>>;

/**
 * A connector call made by step content. `await`, `.then`, `Promise.all` … all go through `then`, so a
 * call nobody ever looked at is one the step forgot to await: its failure must not pass unnoticed.
 */
class ConnectorCall<T> extends Promise<T> {
  observed = false;

  // Promises derived from a call (`.then`, `.catch`, `await`) are plain promises.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  // biome-ignore lint/suspicious/noThenProperty: a call is a Promise that notes when its result is observed
  override then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.observed = true;
    return super.then(onFulfilled, onRejected);
  }
}

/** Every connector call a step execution started, awaited or not: the step ends only when all have settled. */
export class CallTracker {
  private readonly calls: { call: ConnectorCall<unknown>; connector: string; method: string }[] = [];

  track(connector: string, method: string, result: Promise<unknown>): Promise<unknown> {
    const call = new ConnectorCall<unknown>((resolve, reject) => {
      result.then(resolve, reject);
    });
    // Watched through the base `then`, which does not count as the step looking at the call.
    Promise.prototype.then.call(call, undefined, () => undefined);
    this.calls.push({ call, connector, method });
    return call;
  }

  /**
   * Waits until every call has settled (calls started while waiting included). A call that failed and
   * that the step never awaited fails the step, naming the connector and method.
   */
  async settle(): Promise<void> {
    for (let i = 0; i < this.calls.length; i++) {
      const { call, connector, method } = this.calls[i]!;
      const outcome = (await Promise.prototype.then.call(
        call,
        () => null,
        (error: unknown) => ({ error }),
      )) as { error: unknown } | null;
      if (outcome && !call.observed) {
        const error = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
        error.message = `connectors.${connector}.${method}() was not awaited and failed: ${error.message}`;
        throw error;
      }
    }
  }
}

const SEGMENT_BLOCKLIST = new Set(['__proto__']);

/** `into` must be a dot path of non-empty keys, e.g. "crm.contact" or "items.0.price". */
export function validateInto(into: unknown, connector: string, method: string): string {
  const bad = (why: string): never => {
    throw new ConnectorError(connector, method, `\`into\` ${why}; give a dot path in the task data, e.g. into: "crm.contact"`, 'into');
  };
  if (typeof into !== 'string')
    return bad(`must be a string, not ${into === null ? 'null' : Array.isArray(into) ? 'an array' : `a ${typeof into}`}`);
  if (into.length === 0) return bad('is empty');
  const segments = into.split('.');
  if (segments.some((s) => s.length === 0)) return bad(`"${into}" has an empty segment`);
  const blocked = segments.find((s) => SEGMENT_BLOCKLIST.has(s));
  if (blocked) return bad(`"${into}" contains the key ${blocked}`);
  return into;
}

/**
 * The `connectors` global of one step execution. `connectors.<name>.<method>(args)`:
 * - with `args.into`: nothing is called now; `defer` receives the call (arguments without `into`, as JSON) and
 *   the promise resolves to undefined;
 * - otherwise: `registry.call` with `makeContext(callIndex)`.
 * `callIndex` counts every connector call of this execution from 0, deferred ones included, so as long as the
 * step makes its calls in the same order each attempt, the n-th call gets the same index (and idempotency key).
 * Unknown connectors and methods fail when called (not when the property is read), naming what exists; a
 * deferred call with a mistake (unknown name, bad `into`, arguments that are not JSON) throws at once.
 */
export function createConnectorsProxy(
  registry: ConnectorRegistry,
  makeContext: (callIndex: number, connector: string) => ConnectorContext,
  defer: (call: DeferredConnectorCall) => void,
  tracker: CallTracker = new CallTracker(),
): ConnectorsProxy {
  let calls = 0;

  const invoke = (connector: string, method: string, args: unknown): Promise<unknown> => {
    const callIndex = calls++;
    const deferred = args !== null && typeof args === 'object' && !Array.isArray(args) && (args as { into?: unknown }).into !== undefined;
    if (!deferred) {
      // Tracked, so the step waits for it and reports its failure even when the content forgot `await`.
      return tracker.track(connector, method, registry.call(connector, method, args, makeContext(callIndex, connector)));
    }
    // A deferred call is usually not awaited: a mistake in it throws at the call, failing the step, where a
    // rejected promise nobody awaits would go unnoticed (or end the worker process as an unhandled rejection).
    registry.resolve(connector, method);
    const { into, ...rest } = args as { into: unknown };
    defer({ connector, method, args: jsonArgs(rest, connector, method), into: validateInto(into, connector, method) });
    return Promise.resolve(undefined);
  };

  const hasMethod = (connector: string, method: string) => {
    const methods = registry.get(connector)?.methods;
    return !!methods && Object.hasOwn(methods, method);
  };

  const methodsOf = (connector: string): Record<string, (args?: unknown) => Promise<unknown>> => {
    const cache = new Map<string, (args?: unknown) => Promise<unknown>>();
    const methodFn = (method: string | symbol) => {
      // Not thenable (so `await connectors.crm` is harmless) and no symbol-keyed methods.
      if (typeof method !== 'string' || method === 'then') return undefined;
      let fn = cache.get(method);
      if (!fn) {
        fn = (args?: unknown) => invoke(connector, method, args);
        cache.set(method, fn);
      }
      return fn;
    };
    // A function target, so that a connector with a `callable` method can be called itself: connectors.fetch({ url, options }).
    return new Proxy((() => undefined) as unknown as Record<string, (args?: unknown) => Promise<unknown>>, {
      apply: (_target, _this, args: unknown[]) => invoke(connector, registry.callableMethod(connector), args[0]),
      get: (_target, method) => methodFn(method),
      has: (_target, method) => typeof method === 'string' && hasMethod(connector, method),
      ownKeys: () => Object.keys(registry.get(connector)?.methods ?? {}),
      getOwnPropertyDescriptor(_target, method) {
        if (typeof method !== 'string' || !hasMethod(connector, method)) return undefined;
        return { configurable: true, enumerable: true, writable: false, value: methodFn(method) };
      },
      set: () => false,
    });
  };

  const connectors = new Map<string, Record<string, (args?: unknown) => Promise<unknown>>>();
  const connectorOf = (name: string | symbol) => {
    if (typeof name !== 'string' || name === 'then') return undefined;
    let methods = connectors.get(name);
    if (!methods) {
      methods = methodsOf(name);
      connectors.set(name, methods);
    }
    return methods;
  };
  return new Proxy({} as ConnectorsProxy, {
    get: (_target, name) => connectorOf(name),
    has: (_target, name) => typeof name === 'string' && registry.get(name) !== undefined,
    ownKeys: () => registry.names(),
    getOwnPropertyDescriptor(_target, name) {
      if (typeof name !== 'string' || !registry.get(name)) return undefined;
      return { configurable: true, enumerable: true, writable: false, value: connectorOf(name) };
    },
    set: () => false,
  });
}
