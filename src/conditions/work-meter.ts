/**
 * A bound on the work of one evaluation of conditions (one recognize phase): every leaf test costs a
 * unit, a regular expression one more per 16 characters it reads. Past the limit, evaluation stops with
 * WorkLimitError, so no data and no catalog can make one workflow task run past its timeout (a unit is
 * about a microsecond). The meter is set only for the duration of one synchronous evaluation
 * (`withWorkLimit`), so no state outlives it or is shared between tasks. Deterministic.
 */
import { WhenflowError, brandError } from '../model/errors';

export { RECOGNIZE_WORK_LIMIT } from '../model/defaults';

export class WorkLimitError extends WhenflowError {
  static {
    brandError(WorkLimitError, 'WorkLimitError');
  }

  constructor(readonly limit: number) {
    super(
      `evaluating the step conditions on this data took more than ${String(limit).replace(/\B(?=(\d{3})+(?!\d))/g, ',')} units of work ` +
        '(leaf tests, and characters read by regular expressions / 16): make the data smaller, or the conditions narrower',
    );
  }
}

let meter: { spent: number; limit: number } | null = null;

/** Counts `units` against the evaluation running now, if it is bounded. */
export function chargeWork(units: number): void {
  if (meter === null) return;
  meter.spent += units;
  if (meter.spent > meter.limit) throw new WorkLimitError(meter.limit);
}

/** `withWorkLimit`, with the limit's error as the answer past it instead of a throw. */
export function withinWorkLimit<T>(limit: number, evaluate: () => T): T | WorkLimitError {
  try {
    return withWorkLimit(limit, evaluate);
  } catch (error) {
    if (error instanceof WorkLimitError) return error;
    throw error;
  }
}

/** Runs a synchronous evaluation with at most `limit` units of work; throws WorkLimitError past it. */
export function withWorkLimit<T>(limit: number, evaluate: () => T): T {
  const outer = meter;
  meter = { spent: 0, limit };
  try {
    return evaluate();
  } finally {
    meter = outer;
  }
}
