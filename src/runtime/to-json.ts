/**
 * Turns what a step's content left in `data` into a JSON object (docs/semantics.md "What a step writes"):
 * - `Date` becomes its ISO string; an invalid Date is an error (JSON.stringify would write null).
 * - `undefined` object properties are dropped; `undefined` array elements and holes become null,
 *   as JSON.stringify does.
 * - `-0` becomes `0` (JSON has no negative zero).
 * - An object with a `toJSON()` method (URL, Luxon, Decimal, Buffer, ...) is replaced by what that
 *   method returns, as JSON.stringify does: the class states its JSON form explicitly.
 * - Any other non-plain object (Map, Set, RegExp, class instances, boxed primitives) is an error
 *   rather than JSON.stringify's silent `{}`, which would lose the user's data without a word.
 * - Functions, symbols, BigInt, NaN/±Infinity, circular references and the key `__proto__` are
 *   errors naming the step and the path. A value reachable twice without a cycle is just copied.
 * Plain objects, arrays and Dates are recognised without `instanceof`, so values created in
 * another realm (a `node:vm` context running step code) convert the same way.
 */
import { formatJsonPath, isJsonObject, type JsonObject, type JsonPathSegment, type JsonValue } from '../model/json';
import { stringValueOf } from './task-id';
import { FinalError, brandError } from '../model/errors';

/** One value in step data that is not JSON. `path` is like `data.a.b[2]["odd key"]`. */
export interface DataProblem {
  path: string;
  /** What was found there, e.g. `a function`, `NaN`, `a circular reference (back to data.a)`. */
  message: string;
}

/** Enough to fix everything in one go, short enough to read in a log line. */
const MAX_PROBLEMS = 20;

export class DataValueError extends FinalError {
  static {
    brandError(DataValueError, 'DataValueError');
  }

  /** Every problem found, up to MAX_PROBLEMS; `total` counts all of them. */
  constructor(
    readonly step: string,
    readonly problems: DataProblem[],
    readonly total: number = problems.length,
    /** What produced a value outside the data: `task.complete()` or a connector call. */
    subject?: string,
  ) {
    super(formatMessage(step, problems, total, subject));
  }
}

function formatMessage(step: string, problems: DataProblem[], total: number, subject = 'task.complete()'): string {
  const what = (p: DataProblem) =>
    p.path === 'data'
      ? `set data to ${p.message}`
      : /^result\b/.test(p.path)
        ? `got ${p.message} from ${subject} at ${p.path}`
        : `wrote ${p.message} at ${p.path}`;
  const first = problems[0];
  if (problems.length === 1 && total === 1 && first) {
    const must = first.path === 'data' ? 'data must be a JSON object' : 'step data must be JSON';
    return `step "${step}" ${what(first)}; ${must}`;
  }
  const more = total > problems.length ? `; and ${total - problems.length} more` : '';
  return `step "${step}" left ${total} values that are not JSON (step data must be JSON): ${problems.map(what).join('; ')}${more}`;
}

/**
 * A Date of any realm. The tag test first keeps the throwing brand check (costly on large data) to values
 * that claim to be Dates; this module stays free of Node imports, so workflow code may use its helpers.
 */
function isDate(value: object): value is Date {
  try {
    if (Object.prototype.toString.call(value) !== '[object Date]') return false;
    Date.prototype.getTime.call(value);
    return true;
  } catch {
    return false;
  }
}

/** A plain object of any realm: its prototype is null or some realm's Object.prototype. */
/** A Promise of any realm, or anything awaitable: a value written without `await`. */
function isThenable(value: object): boolean {
  try {
    return typeof (value as { then?: unknown }).then === 'function';
  } catch {
    return false;
  }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function className(value: object): string {
  try {
    const ctor: unknown = (value as { constructor?: unknown }).constructor;
    if (typeof ctor === 'function' && ctor.name) return ctor.name;
  } catch {
    // a throwing getter: fall through to the generic name
  }
  return 'an unknown class';
}

function describePrimitive(value: unknown): string | undefined {
  switch (typeof value) {
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'bigint':
      return `a BigInt (${String(value)}n)`;
    case 'number':
      return Number.isFinite(value) ? undefined : String(value);
    default:
      return undefined;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Marks "drop this object property" (undefined); distinct from any JSON value. */
const DROP = Symbol('drop');

class Converter {
  constructor(private readonly root = 'data') {}
  readonly problems: DataProblem[] = [];
  total = 0;
  private readonly path: JsonPathSegment[] = [];
  /** Objects on the current path (not all visited ones), so shared references are not cycles. */
  private readonly ancestors = new Map<object, number>();

  problem(message: string): void {
    this.total++;
    if (this.problems.length < MAX_PROBLEMS) {
      this.problems.push({ path: formatJsonPath(this.path, this.root), message });
    }
  }

  rootProblem(message: string): void {
    this.total++;
    this.problems.unshift({ path: 'data', message });
    this.problems.length = Math.min(this.problems.length, MAX_PROBLEMS);
  }

  /** Returns DROP for `undefined` (and after reporting a problem) so callers decide. */
  convert(value: unknown, key: string, useToJSON = true): JsonValue | typeof DROP {
    if (value === undefined) return DROP;
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return value === 0 ? 0 : value;
    const asString = stringValueOf(value);
    if (asString !== undefined) return asString;
    const bad = describePrimitive(value);
    if (bad !== undefined || typeof value !== 'object') {
      this.problem(bad ?? `a ${typeof value}`);
      return DROP;
    }

    if (Array.isArray(value)) return this.within(value, () => this.array(value));
    if (isDate(value)) {
      const time = value.getTime();
      if (Number.isNaN(time)) {
        this.problem('an invalid Date');
        return DROP;
      }
      return new Date(time).toISOString();
    }
    const toJSON: unknown = useToJSON ? this.read(value, 'toJSON') : undefined;
    if (typeof toJSON === 'function') {
      let replaced: unknown;
      try {
        replaced = toJSON.call(value, key);
      } catch (err) {
        this.problem(`an object whose toJSON() threw: ${errorText(err)}`);
        return DROP;
      }
      // Like JSON.stringify, toJSON is not applied again to its own result. The object stays on
      // the ancestor path meanwhile, so a toJSON() that returns something holding it is a cycle.
      if (replaced === value) return this.convert(replaced, key, false);
      return this.within(value, () => this.convert(replaced, key, false));
    }
    if (isThenable(value)) {
      this.problem('a Promise (missing await?)');
      return DROP;
    }
    if (!isPlainObject(value)) {
      this.problem(`an instance of ${className(value)} (only plain objects, arrays and Dates)`);
      return DROP;
    }
    return this.within(value, () => this.object(value));
  }

  private within(value: object, walk: () => JsonValue | typeof DROP): JsonValue | typeof DROP {
    const depth = this.ancestors.get(value);
    if (depth !== undefined) {
      this.problem(`a circular reference (back to ${formatJsonPath(this.path.slice(0, depth), this.root)})`);
      return DROP;
    }
    this.ancestors.set(value, this.path.length);
    try {
      return walk();
    } finally {
      this.ancestors.delete(value);
    }
  }

  private array(value: readonly unknown[]): JsonValue[] {
    const out: JsonValue[] = [];
    for (let i = 0; i < value.length; i++) {
      this.path.push(i);
      const item = this.convert(this.read(value, i), String(i));
      this.path.pop();
      out.push(item === DROP ? null : item);
    }
    return out;
  }

  private object(value: object): JsonObject {
    const out: JsonObject = {};
    let keys: string[];
    try {
      keys = Object.keys(value);
    } catch (err) {
      this.problem(`an object whose keys cannot be listed: ${errorText(err)}`); // e.g. a revoked Proxy
      return out;
    }
    for (const key of keys) {
      this.path.push(key);
      if (key === '__proto__') {
        // rfc6902 (rightly) refuses to resolve this pointer token, so it could never be patched.
        this.problem('the key __proto__ (not allowed in task data)');
      } else {
        const item = this.convert(this.read(value, key), key);
        if (item !== DROP) out[key] = item;
      }
      this.path.pop();
    }
    return out;
  }

  /** Property read that reports a throwing getter (or proxy trap) instead of aborting. */
  private read(target: object, key: string | number): unknown {
    try {
      return (target as Record<string | number, unknown>)[key];
    } catch (err) {
      this.problem(`a property whose getter threw: ${errorText(err)}`);
      return undefined;
    }
  }
}

function describeRoot(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return isDate(value) ? 'a Date' : `an instance of ${className(value)}`;
  return `a ${typeof value}`;
}

/**
 * Converts a step's `data` into a fresh JSON object (never aliasing `value`), or throws a
 * DataValueError listing every non-JSON value found (up to 20), each with its path.
 */
export function toJson(value: unknown, where: { step: string }): JsonObject {
  const converter = new Converter();
  const result = converter.convert(value, '');
  if (result !== DROP && !isJsonObject(result)) {
    // The step reassigned `data` to a JSON value that is not an object; say so first.
    converter.rootProblem(describeRoot(value));
  } else if (result === DROP && converter.total === 0) {
    converter.rootProblem('undefined');
  }
  if (converter.total > 0 || result === DROP || !isJsonObject(result)) {
    throw new DataValueError(where.step, converter.problems, converter.total);
  }
  return result;
}

/**
 * Converts a value that is not the step's data — what a step gives `task.complete(result)`, what a
 * connector call returns — locating problems under `result`, not under `data`.
 */
export function resultToJson(value: unknown, where: { step: string }, subject = 'task.complete()'): JsonValue {
  if (value === undefined) return null;
  const converter = new Converter('result');
  const result = converter.convert(value, '');
  if (converter.total > 0 || result === DROP) {
    const problems = converter.problems.length > 0 ? converter.problems : [{ path: 'result', message: describeRoot(value) }];
    throw new DataValueError(where.step, problems, Math.max(1, converter.total), subject);
  }
  return result;
}
