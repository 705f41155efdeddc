/**
 * Running ahead: a local step's activity, once its step is done, runs the step the cycle would choose next on
 * the data that step left, and so on, while each step gives no command (docs/how-a-task-runs.md, "Running
 * ahead"). The workflow then takes each result only if its own cycle chooses the same step at that point;
 * the choice here is the cycle's own rule (selectSteps, one step at a time), so it does.
 *
 * Pure and deterministic: decides in the workflow (whether to ask) and in the activity (which step is next).
 */
import { WorkLimitError, withinWorkLimit } from '../conditions/work-meter';
import type { JsonObject } from '../model/json';
import type { CatalogStep } from '../model/task';
import { selectSteps, type CompiledCatalog } from './select';
import { INLINE_DATA_LIMIT, stepDataInput } from './step-data';

/** Most steps one activity runs after its own: a bound on what a discarded run would have done for nothing. */
export const RUN_AHEAD_MAX_STEPS = 20;
/**
 * A further step starts only this soon after the activity started: queries and updates of the task wait while
 * its workflow task runs local activities, so running ahead must not hold them for long.
 */
export const RUN_AHEAD_WINDOW_MS = 1000;

/** What the activity needs to choose as the cycle would: the task's catalog and which steps have run. */
export interface RunAheadRequest {
  /** The catalog version the task uses: a worker whose workspace reads differently does not run ahead. */
  catalogVersion: string;
  /** The cycle of the activity's own step: the steps run ahead are those of the cycles after it. */
  cycle: number;
  /** Steps that have run (and not asked to run again): not eligible, as in the cycle. */
  ran: string[];
  /** At most this many further steps (RUN_AHEAD_MAX_STEPS, or fewer near the task's `maxStepRuns`). */
  maxSteps: number;
  /** The task's bound on one recognize phase. */
  maxRecognizeWork: number;
  /** The longest timeout of a local step: the activity's own timeout is its first step's plus this. */
  longestTimeoutMs: number;
}

/** Whether a task may run ahead at all: one step at a time, conditions choosing (no explicit sequence). */
export function mayRunAhead(options: { concurrency: number; hasSequence: boolean; remainingStepRuns: number }): boolean {
  return options.concurrency <= 1 && !options.hasSequence && options.remainingStepRuns > 1;
}

/** The longest timeout of the catalog's local steps (0 if it has none). */
export function longestLocalTimeoutMs(catalog: CompiledCatalog): number {
  let longest = 0;
  for (const { step } of catalog.steps) if (step.local === true && step.timeoutMs > longest) longest = step.timeoutMs;
  return longest;
}

/**
 * The step the cycle chooses next on `data`, if it may run ahead: exactly one step matches first (by rank),
 * it is local, and its data goes inline. Null when nothing matches, the data is empty (the task is done), the
 * recognize phase passes its limit, or the chosen step is not one to run ahead; the workflow then decides.
 */
export function stepAhead(
  catalog: CompiledCatalog,
  data: JsonObject,
  ran: ReadonlySet<string>,
  maxRecognizeWork: number,
): CatalogStep | null {
  if (Object.keys(data).length === 0) return null;
  const chosen = withinWorkLimit(maxRecognizeWork, () => selectSteps(catalog, data, (name) => !ran.has(name), 1).run);
  if (chosen instanceof WorkLimitError) return null;
  const next = chosen[0];
  if (chosen.length !== 1 || next === undefined || next.local !== true) return null;
  return 'data' in stepDataInput(data, INLINE_DATA_LIMIT) ? next : null;
}
