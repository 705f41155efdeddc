/**
 * The one error model of whenflow (docs/failures.md#errors). Every error the engine throws is a
 * WhenflowError; one that fails the same way on every attempt is a FinalError, and where a worker
 * reports a failure to Temporal that class alone decides "not retried" — there is no list of names.
 *
 * `instanceof` holds across module instances: step files and libraries load in module namespaces of
 * their own, so an error can be made by a second copy of a class. Each class is branded with a
 * registered symbol (`Symbol.for`, shared by every copy) and `instanceof` checks the brand, not the
 * prototype chain. Pure: no Node imports, usable from workflow code.
 */

/** The brand of every whenflow error. */
export const WHENFLOW_ERROR_BRAND = Symbol.for('whenflow.error');

/** Where a branded class keeps its own brand (a static property of that class only). */
const OWN_BRAND = Symbol.for('whenflow.error.own-brand');

/** The registered brand of the error class named `name`. */
export function errorBrand(name: string): symbol {
  return Symbol.for(`whenflow.error.${name}`);
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Brands an error class (call it from the class's `static {}` block): its instances, and those of its
 * subclasses, carry the brand on their prototype, and their `name` is `name` — the type Temporal
 * records and a retry policy's `nonRetryableErrorTypes` names.
 */
export function brandError(errorClass: ErrorClass, name: string): void {
  const brand = name === 'WhenflowError' ? WHENFLOW_ERROR_BRAND : errorBrand(name);
  Object.defineProperty(errorClass, OWN_BRAND, { value: brand, enumerable: false });
  Object.defineProperty(errorClass.prototype, brand, { value: true, enumerable: false });
  Object.defineProperty(errorClass.prototype, 'name', { value: name, writable: true, configurable: true, enumerable: false });
}

function carriesBrand(value: unknown, brand: symbol): boolean {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  try {
    return (value as Record<symbol, unknown>)[brand] === true;
  } catch {
    // A proxy (thrown by step content) whose trap throws is no whenflow error.
    return false;
  }
}

/** Base of every error whenflow throws. Retryable unless it is a FinalError. */
export class WhenflowError extends Error {
  static {
    brandError(WhenflowError, 'WhenflowError');
  }

  /** The brand of the class asked about (a subclass's own), or the ordinary check for a subclass without one. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asks about, which may be any subclass
    // biome-ignore lint/complexity/noUselessThisAlias: named once, as the class asked about
    const asked: object = this;
    const brand = Object.hasOwn(asked, OWN_BRAND) ? (asked as Record<symbol, unknown>)[OWN_BRAND] : undefined;
    if (typeof brand !== 'symbol') return Function.prototype[Symbol.hasInstance].call(asked, value);
    return carriesBrand(value, brand);
  }
}

/** Final: the same input fails the same way every time, so the attempt is not retried (Restate's TerminalError). */
export class FinalError extends WhenflowError {
  static {
    brandError(FinalError, 'FinalError');
  }
}

/**
 * Whether an error fails the same way on every attempt: a FinalError, or, from code whenflow does not
 * own (step content, libraries, connectors), a mistake in the code (`ReferenceError`, `SyntaxError`)
 * or an error marked `final: true`. Those are told by name and property: they may come from any realm.
 */
export function isFinalError(error: unknown): boolean {
  if (error instanceof FinalError) return true;
  if (typeof error !== 'object' || error === null) return false;
  try {
    const { name, final } = error as { name?: unknown; final?: unknown };
    return name === 'ReferenceError' || name === 'SyntaxError' || final === true;
  } catch {
    return false;
  }
}
