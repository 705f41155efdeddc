/**
 * Explanations from history: why each step did or did not run at any cycle of a task, why a task is in
 * `attention`, and the task's data at any cycle, all rebuilt from what Temporal recorded.
 */
import type { Client } from '@temporalio/client';
import type { JsonObject } from '../model/json';
import type { DataPatch } from '../model/patch';
import { diffData } from '../model/patch';
import { attentionReason, explainSteps, type AttentionReason, type StepExplanation } from './explain';
import { readTaskHistory } from './history-fetch';
import { cycleRecord, dataAfterCycle, walkHistory } from './timeline';
import { WhenflowError, brandError } from '../model/errors';

export {
  attentionReason,
  describeFailing,
  explainSteps,
  firstFailing,
  suggestKey,
  type AttentionReason,
  type FailingConstraint,
  type NearMiss,
  type StepExplanation,
  type StepStatus,
} from './explain';
export { walkHistory, type CycleRecord, type HistoryFact, type RecordedRun, type TaskAt } from './timeline';
export { readTaskHistory } from './history-fetch';

export interface TaskExplanation {
  taskId: string;
  /** The cycle explained; null for the task as it stands now (what its next cycle would choose). */
  cycle: number | null;
  /** Cycles the task has completed. */
  cycles: number;
  /** The data the steps are matched against. */
  data: JsonObject;
  catalogVersion: string | null;
  /** Steps that ran in the explained cycle (or would run next). */
  chosen: string[];
  steps: StepExplanation[];
}

export class ExplainError extends WhenflowError {
  static {
    brandError(ExplainError, 'ExplainError');
  }

  constructor(message: string) {
    super(message);
  }
}

/**
 * Every step of a task explained at cycle `cycle` (the data that cycle's steps were chosen on), or now
 * (the data the next cycle would be chosen on). Only `step` when given.
 */
export async function explainTask(
  client: Client,
  taskId: string,
  options: { cycle?: number; step?: string } = {},
): Promise<TaskExplanation> {
  const runs = await readTaskHistory(client, taskId, options.cycle === undefined ? {} : { fromCycle: Math.max(0, options.cycle - 1) });
  const last = walkHistory(runs);
  let explanation: TaskExplanation;
  if (options.cycle === undefined) {
    if (!last.catalog) throw new ExplainError(`task ${taskId} has not loaded its steps yet`);
    const steps = explainSteps({
      catalog: last.catalog,
      data: last.data,
      ran: last.ran,
      concurrency: last.concurrency,
      sequence: last.sequence,
    });
    explanation = {
      taskId,
      cycle: null,
      cycles: last.cycle,
      data: last.data,
      catalogVersion: last.catalog.version,
      chosen: steps.filter((s) => s.status === 'runs').map((s) => s.step),
      steps,
    };
  } else {
    const record = options.cycle >= 1 ? cycleRecord(runs, options.cycle) : null;
    if (!record?.catalog)
      throw new ExplainError(
        `task ${taskId} has no cycle ${options.cycle} (it has run ${last.cycle} cycle${last.cycle === 1 ? '' : 's'}; cycles count from 1)`,
      );
    const steps = explainSteps({
      catalog: record.catalog,
      data: record.before,
      ran: record.ranBefore,
      concurrency: Math.max(1, record.steps.length),
      sequence: record.sequence,
      chosen: record.steps,
    });
    explanation = {
      taskId,
      cycle: record.cycle,
      cycles: last.cycle,
      data: record.before,
      catalogVersion: record.catalog.version,
      chosen: record.steps,
      steps,
    };
  }
  if (options.step !== undefined) {
    const known = explanation.steps.map((s) => s.step);
    if (!known.includes(options.step))
      throw new ExplainError(`the task's catalog has no step "${options.step}" (steps: ${known.join(', ') || 'none'})`);
    explanation.steps = explanation.steps.filter((s) => s.step === options.step);
  }
  return explanation;
}

/** Why a task in `attention` is stuck, from its recorded catalog and eligibility and the given data. */
export async function explainAttention(client: Client, taskId: string, data: JsonObject): Promise<AttentionReason | null> {
  const runs = await readTaskHistory(client, taskId);
  const last = walkHistory(runs);
  if (!last.catalog) return null;
  return attentionReason(
    explainSteps({ catalog: last.catalog, data, ran: last.ran, concurrency: last.concurrency, sequence: last.sequence }),
  );
}

function checkCycle(n: number, cycles: number, taskId: string): void {
  if (n > cycles)
    throw new ExplainError(
      `task ${taskId} has no cycle ${n} (it has run ${cycles} cycle${cycles === 1 ? '' : 's'}; 0 is the data it started with)`,
    );
}

/** The data after cycle `n` (0: as the task started). */
export async function taskDataAt(client: Client, taskId: string, n: number): Promise<JsonObject> {
  const runs = await readTaskHistory(client, taskId, { fromCycle: n });
  const cycles = walkHistory(runs.slice(-1)).cycle;
  checkCycle(n, cycles, taskId);
  const data = dataAfterCycle(runs, n);
  if (!data) throw new ExplainError(`task ${taskId} has no recorded data after cycle ${n}`);
  return data;
}

/** What changed in the data between cycle `from` and cycle `to` (JSON Patch operations). */
export async function taskDataDiff(
  client: Client,
  taskId: string,
  from: number,
  to: number,
): Promise<{ from: number; to: number; changes: DataPatch }> {
  const [before, after] = await Promise.all([taskDataAt(client, taskId, from), taskDataAt(client, taskId, to)]);
  return { from, to, changes: diffData(before, after) };
}
