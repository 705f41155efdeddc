import { AsyncLocalStorage } from 'node:async_hooks';
import { WhenflowError, brandError } from '../model/errors';

/**
 * Step content reads `data`, `task`, `step`, `console`, … as free variables. Many steps run at once in one
 * worker process, so each global is a getter on globalThis that resolves to the scope of the step
 * execution whose async context is current. Outside a step the getters fail loudly, which is also how
 * a step file that reads `data` while it loads gets caught.
 */
export interface StepScope {
  data: unknown;
  task: object;
  step: object;
  connectors: object;
  audit: object;
  lib: object;
  /** Absent in scopes made without a blob store. */
  blob?: object;
  console: Console;
}

const SCOPED_GLOBALS = ['data', 'task', 'step', 'connectors', 'audit', 'lib', 'blob'] as const satisfies readonly (keyof StepScope)[];

const storage = new AsyncLocalStorage<StepScope>();
let installed = false;

export class OutsideStepError extends WhenflowError {
  static {
    brandError(OutsideStepError, 'OutsideStepError');
  }

  constructor(readonly global: string) {
    super(
      `\`${global}\` is only available while a step's content runs` +
        (global === 'data' ? '; a condition refers to another field with { $data: "path.to.field" }' : ''),
    );
  }
}

export function installStepGlobals(): void {
  if (installed) return;
  installed = true;
  const realConsole = globalThis.console;
  for (const name of SCOPED_GLOBALS) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        const scope = storage.getStore();
        if (!scope) throw new OutsideStepError(name);
        return scope[name];
      },
      set(value: unknown) {
        const scope = storage.getStore();
        if (!scope) throw new OutsideStepError(name);
        // Only `data` may be reassigned (e.g. `data = {}` finishes the task); the rest are engine objects.
        if (name !== 'data') throw new TypeError(`step content cannot reassign \`${name}\``);
        scope.data = value;
      },
    });
  }
  Object.defineProperty(globalThis, 'console', {
    configurable: true,
    get: () => storage.getStore()?.console ?? realConsole,
    set: () => {
      throw new TypeError('step content cannot reassign `console`');
    },
  });
}

export function runInStepScope<T>(scope: StepScope, fn: () => Promise<T>): Promise<T> {
  installStepGlobals();
  return storage.run(scope, fn);
}

/** Runs `fn` (e.g. importing a step file) where any read of a step global fails with OutsideStepError. */
export function runOutsideStep<T>(fn: () => Promise<T>): Promise<T> {
  installStepGlobals();
  return storage.exit(fn);
}
