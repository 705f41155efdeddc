import { mergeBatch, mergePatches } from '../cycle/merge';
import type { CompiledCatalog } from '../cycle/select';
import type { CycleEffects, StepRun, TaskBook } from '../cycle/task-book';
import { checkStepOutcome } from '../model/activity-results';
import type { SequencePosition } from '../model/events';
import type { CatalogStep, StepOutcome, TaskError } from '../model/task';
import { startCycleSpan } from './cycle-span';
import { describeStepFailure } from './failures';
import { runStep } from './run-step';
import type { StepsRanAhead } from './ran-ahead';
import { publishSearchAttributes } from './search-attributes';

/**
 * Act: run the chosen steps (one, or a parallel batch on one snapshot) as activities, merge their patches,
 * apply their commands. Steps that succeeded keep their effects even when a sibling failed. A step an earlier
 * activity ran ahead for this cycle is not run again: its outcome is taken from `ranAhead`.
 */
export async function act(
  task: TaskBook,
  chosen: CatalogStep[],
  catalog: CompiledCatalog,
  ranAhead: StepsRanAhead,
  position?: SequencePosition,
): Promise<CycleEffects> {
  const steps = chosen.map((step) => step.name);
  const cycle = task.beginCycle(steps, position);
  publishSearchAttributes(task);
  const snapshot = task.data;
  const startedAt = new Date(Date.now()).toISOString();
  const span = startCycleSpan({ taskId: task.taskId, cycle, steps, ...(position ? { position } : {}) });
  // In a parallel batch each step reports what it read, to be checked against the writes ranked before it.
  const trackReads = task.lossless && chosen.length > 1;
  const taken = ranAhead.take(chosen, position, task);
  const ahead = taken ? null : ranAhead.request(task, chosen, catalog, position);
  const settled: PromiseSettledResult<StepOutcome>[] = taken
    ? [{ status: 'fulfilled', value: taken }]
    : await span.activate(() => Promise.allSettled(chosen.map((step) => runStep(task, step, cycle, trackReads, ahead))));

  const runs: (StepRun & { patch: StepOutcome['patch']; reads: string[] })[] = [];
  let failure: TaskError | null = null;
  settled.forEach((settledRun, i) => {
    const step = chosen[i]!;
    // An outcome run ahead was checked with the result that brought it.
    const result = taken ? settledRun : checkedOutcome(settledRun);
    if (result.status === 'fulfilled') {
      if (ahead) ranAhead.hold(result.value.ahead ?? []);
      const { attempt, durationMs, logs, commands, patch, reads } = result.value;
      const conditionReads = catalog.steps.find((entry) => entry.step === step)?.reads ?? [];
      runs.push({
        step: step.name,
        startedAt,
        attempt,
        durationMs,
        logs,
        commands,
        patch,
        reads: [...conditionReads, ...(reads ?? [])],
        ...(position ? { position } : {}),
      });
    } else if (!task.terminal) {
      // After a stop, the cancelled steps are not failures of the task.
      const error = describeStepFailure(step, result.reason);
      task.stepFailed(cycle, error, position);
      failure ??= error;
    }
  });
  const effects = task.lossless
    ? task.recordBatch(runs, mergeBatch(snapshot, runs))
    : task.recordCycle(
        runs,
        mergePatches(
          snapshot,
          runs.map((run) => ({ step: run.step, patch: run.patch })),
        ),
      );
  if (failure && !task.terminal) task.fail(failure);
  span.end(failure);
  publishSearchAttributes(task);
  return effects;
}

/** A step activity's result is checked like any outside input: a wrong shape fails the step, not the workflow. */
function checkedOutcome(settled: PromiseSettledResult<StepOutcome>): PromiseSettledResult<StepOutcome> {
  if (settled.status === 'rejected') return settled;
  const checked = checkStepOutcome(settled.value);
  return checked.ok
    ? { status: 'fulfilled', value: checked.value }
    : { status: 'rejected', reason: new Error(`the step activity returned a malformed outcome: ${checked.problem}`) };
}
