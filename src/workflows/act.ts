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

/** A cycle that has begun: its steps are chosen and recorded as started, on this snapshot of the data. */
interface BegunCycle {
  task: TaskBook;
  chosen: CatalogStep[];
  catalog: CompiledCatalog;
  position: SequencePosition | undefined;
  cycle: number;
  snapshot: TaskBook['data'];
  startedAt: string;
  span: ReturnType<typeof startCycleSpan>;
}

function beginCycle(task: TaskBook, chosen: CatalogStep[], catalog: CompiledCatalog, position?: SequencePosition): BegunCycle {
  const steps = chosen.map((step) => step.name);
  const cycle = task.beginCycle(steps, position);
  publishSearchAttributes(task);
  const startedAt = new Date(Date.now()).toISOString();
  const span = startCycleSpan({ taskId: task.taskId, cycle, steps, ...(position ? { position } : {}) });
  return { task, chosen, catalog, position, cycle, snapshot: task.data, startedAt, span };
}

/**
 * Act: run the chosen steps (one, or a parallel batch on one snapshot) as activities, merge their patches,
 * apply their commands. Steps that succeeded keep their effects even when a sibling failed. The activity of a
 * lone local step may run ahead: what it ran is kept in `ranAhead` for the cycles to come.
 */
export async function act(
  task: TaskBook,
  chosen: CatalogStep[],
  catalog: CompiledCatalog,
  ranAhead: StepsRanAhead,
  position?: SequencePosition,
): Promise<CycleEffects> {
  const begun = beginCycle(task, chosen, catalog, position);
  // In a parallel batch each step reports what it read, to be checked against the writes ranked before it.
  const trackReads = task.lossless && chosen.length > 1;
  const ahead = ranAhead.request(task, chosen, catalog, begun.cycle, position);
  const settled = await begun.span.activate(() =>
    Promise.allSettled(chosen.map((step) => runStep(task, step, begun.cycle, trackReads, ahead))),
  );
  const checked = settled.map(checkedOutcome);
  const first = checked[0];
  if (ahead && first?.status === 'fulfilled') ranAhead.hold(first.value.ahead ?? []);
  return recordCycle(begun, checked);
}

/**
 * Act on a step an earlier activity ran ahead for this cycle: its outcome (checked with the result that brought
 * it) is recorded as if the step had run now. Synchronous: no activity, no promise for the workflow to track.
 */
export function actRanAhead(task: TaskBook, step: CatalogStep, catalog: CompiledCatalog, outcome: StepOutcome): CycleEffects {
  return recordCycle(beginCycle(task, [step], catalog), [{ status: 'fulfilled', value: outcome }]);
}

/** The cycle's outcomes merged and recorded; a step that failed for good puts the task in error. */
function recordCycle(begun: BegunCycle, settled: PromiseSettledResult<StepOutcome>[]): CycleEffects {
  const { task, chosen, catalog, position, cycle, snapshot, startedAt, span } = begun;
  const runs: (StepRun & { patch: StepOutcome['patch']; reads: string[] })[] = [];
  let failure: TaskError | null = null;
  settled.forEach((result, i) => {
    const step = chosen[i]!;
    if (result.status === 'fulfilled') {
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
