/**
 * How a step activity receives the task data: inline in its input when the data is small, else by
 * reference. Activity inputs are recorded in history, so inline data would write the whole data into
 * history once per step execution; a reference is read through a query (never recorded) and checked.
 *
 * Pure and deterministic: runs inside the workflow (deciding) and in the activity (checking).
 */
import { isJsonObject, type JsonObject } from '../model/json';
import { WhenflowError, brandError } from '../model/errors';

/** Data whose JSON text is longer than this many characters is passed by reference. */
export const INLINE_DATA_LIMIT = 64 * 1024;

/** Identifies the data a step was scheduled with: its JSON text's length and checksum. */
export interface StepDataRef {
  chars: number;
  hash: string;
}

export type StepDataInput = { data: JsonObject } | { dataRef: StepDataRef };

/** Decided once per data object: concurrent steps of one cycle share their snapshot. */
const decided = new WeakMap<JsonObject, StepDataInput>();

export function stepDataInput(data: JsonObject, limit = INLINE_DATA_LIMIT): StepDataInput {
  const known = decided.get(data);
  if (known && limit === INLINE_DATA_LIMIT) return known;
  const json = JSON.stringify(data);
  const input: StepDataInput = json.length > limit ? { dataRef: { chars: json.length, hash: checksum(json) } } : { data };
  if (limit === INLINE_DATA_LIMIT) decided.set(data, input);
  return input;
}

export class StepDataMismatchError extends WhenflowError {
  static {
    brandError(StepDataMismatchError, 'StepDataMismatchError');
  }

  constructor(message: string) {
    super(message);
  }
}

/** The data read for a reference, if it is exactly the data the step was scheduled with. */
export function checkStepData(received: unknown, ref: StepDataRef, step: string): JsonObject {
  if (!isJsonObject(received))
    throw new StepDataMismatchError(
      `step "${step}": the task answered with ${received === null ? 'null' : typeof received} instead of its data`,
    );
  const json = JSON.stringify(received);
  const hash = json.length === ref.chars ? checksum(json) : null;
  if (hash !== ref.hash) {
    throw new StepDataMismatchError(
      `step "${step}": the data read from the task (${json.length} characters${hash ? `, checksum ${hash}` : ''}) is not the data the step was scheduled with (${ref.chars} characters, checksum ${ref.hash})`,
    );
  }
  return received;
}

/**
 * 64-bit FNV-1a over the UTF-16 code units, as two 32-bit lanes with different offset bases. An
 * integrity check (the right snapshot arrived whole), not a defence against forgery: the data comes
 * from the task's own workflow.
 */
export function checksum(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // × 16777619 (the FNV prime) as shifts and adds: Math.imul is a slow call inside the workflow sandbox.
    a ^= unit;
    a = (a + (a << 1) + (a << 4) + (a << 7) + (a << 8) + (a << 24)) | 0;
    b ^= unit;
    b = (b + (b << 1) + (b << 4) + (b << 7) + (b << 8) + (b << 24)) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
