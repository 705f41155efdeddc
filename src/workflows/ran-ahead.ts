import * as wf from '@temporalio/workflow';
import { longestLocalTimeoutMs, mayRunAhead, RUN_AHEAD_MAX_STEPS, type RunAheadRequest } from '../cycle/run-ahead';
import type { CompiledCatalog } from '../cycle/select';
import type { TaskBook } from '../cycle/task-book';
import type { SequencePosition } from '../model/events';
import type { TaskStart } from '../activities';
import { stepDataInput } from '../cycle/step-data';
import type { CatalogStep, StepOutcome, StepRanAhead } from '../model/task';

function cycleAllows(task: TaskBook): boolean {
  return mayRunAhead({
    concurrency: task.options.concurrency,
    hasSequence: Boolean(task.sequence),
    remainingStepRuns: task.remainingStepRuns,
  });
}

/**
 * Outcomes of steps a step activity ran ahead (src/cycle/run-ahead.ts), each waiting for the cycle that
 * chooses its step. A cycle that chooses otherwise drops them all: they run again if the cycle chooses them.
 */
export class StepsRanAhead {
  private queue: StepRanAhead[] = [];

  /** Outcomes are waiting: they take effect before anything that arrived meanwhile is taken in. */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  /** What to ask the activity of `chosen`'s first step: to run ahead, when the cycle allows it. */
  request(
    task: TaskBook,
    chosen: CatalogStep[],
    catalog: CompiledCatalog,
    cycle: number,
    position: SequencePosition | undefined,
  ): RunAheadRequest | null {
    const only = chosen.length === 1 ? chosen[0] : undefined;
    if (only?.local !== true || position !== undefined || !cycleAllows(task)) return null;
    return {
      catalogVersion: catalog.version,
      cycle,
      ran: task.ranSteps,
      maxSteps: Math.min(RUN_AHEAD_MAX_STEPS, task.remainingStepRuns - 1),
      maxRecognizeWork: task.recognizeWorkLimit,
      longestTimeoutMs: longestLocalTimeoutMs(catalog),
    };
  }

  /**
   * What to ask the catalog's loading of a task no step has run in yet: to run ahead from its start, when the
   * cycle allows it and the data goes inline.
   */
  fromStart(task: TaskBook): TaskStart | null {
    if (task.stepRuns > 0 || !cycleAllows(task) || !('data' in stepDataInput(task.data))) return null;
    return {
      taskId: task.taskId,
      name: task.name,
      tags: task.tags,
      maxDataBytes: task.options.maxDataBytes,
      data: task.data,
      ahead: { maxSteps: Math.min(RUN_AHEAD_MAX_STEPS, task.remainingStepRuns), maxRecognizeWork: task.recognizeWorkLimit },
    };
  }

  /** Keeps what an activity ran ahead, for the cycles to come. */
  hold(ahead: StepRanAhead[]): void {
    this.queue = [...ahead];
  }

  /** The outcome for a cycle that chose `chosen`, if its step is the next one run ahead; else the rest is dropped. */
  take(chosen: CatalogStep[], position: SequencePosition | undefined, task: TaskBook): StepOutcome | null {
    const next = this.queue[0];
    if (!next) return null;
    if (chosen.length === 1 && position === undefined && chosen[0]!.name === next.step) {
      this.queue.shift();
      const { step: _step, ...outcome } = next;
      return outcome;
    }
    this.drop(task);
    return null;
  }

  /** The cycle went another way (the task stopped, failed or reloaded its catalog): the waiting outcomes lapse. */
  drop(task: TaskBook): void {
    if (this.queue.length === 0) return;
    if (!task.terminal)
      wf.log.warn('steps run ahead were not taken: the cycle chose otherwise', {
        taskId: task.taskId,
        steps: this.queue.map((o) => o.step),
      });
    this.queue = [];
  }
}
