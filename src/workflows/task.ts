import * as wf from '@temporalio/workflow';
import type { TaskActivities } from '../activities';
import { mergePatches } from '../cycle/merge';
import { compileCatalog, selectSteps, type CompiledCatalog } from '../cycle/select';
import { TaskBook, type StepRun } from '../cycle/task-book';
import type { CatalogStep, StepOutcome, TaskError, TaskSnapshot } from '../model/task';
import { TASK_NAME_KEY, TASK_STATE_KEY, TASK_TAGS_KEY } from '../model/search-attributes';
import { describeStepFailure } from './failures';
import { progressQuery, resumeUpdate, snapshotQuery, stopUpdate, type TaskWorkflowInput } from './api';

const { loadCatalog } = wf.proxyActivities<TaskActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['WorkspaceError'] },
});

/**
 * One task: the recognize–act cycle of SEMANTICS.md over the task's data.
 * recognize: match conditions, resolve conflicts; act: run the chosen steps as activities on one
 * snapshot; merge their patches; apply their commands; repeat until the task is terminal.
 */
export async function taskWorkflow(input: TaskWorkflowInput): Promise<TaskSnapshot> {
  const task = new TaskBook(wf.workflowInfo().workflowId, input.name, input.tags, input.data, input.options);
  const control = listenForControl(task);
  publishSearchAttributes(task);

  let catalog: CompiledCatalog | undefined;
  while (!task.terminal) {
    if (task.needsOutsideHelp) {
      // error and attention wait for the outside world: a resume (or, later, new data or a reload).
      publishSearchAttributes(task);
      await wf.condition(() => !task.needsOutsideHelp);
      continue;
    }
    catalog ??= await loadCompiledCatalog(task);
    if (catalog) await cycle(task, catalog, control.takeForcedStep());
  }
  publishSearchAttributes(task);
  await wf.condition(wf.allHandlersFinished);
  return task.snapshot();
}

/** One recognize–act round. `forced` names steps to run regardless of their condition (resume). */
async function cycle(task: TaskBook, catalog: CompiledCatalog, forced: string | null): Promise<void> {
  const chosen = forced
    ? catalog.steps.filter((entry) => entry.step.name === forced).map((entry) => entry.step)
    : selectSteps(catalog, task.data, task.isEligible, task.options.concurrency).run;

  if (chosen.length === 0) {
    task.state = 'attention';
    return;
  }
  if (task.exceedsStepBudget(chosen.length)) {
    task.fail({
      step: chosen[0]!.name,
      message: `more than ${task.options.maxStepRuns} step executions in one task (maxStepRuns); a step may be redoing itself forever`,
      attempts: 0,
      reason: 'max-step-runs',
    });
    return;
  }

  task.state = 'running';
  publishSearchAttributes(task);
  const snapshot = task.data;
  const startedAt = new Date(wf.workflowInfo().unsafe.now()).toISOString();
  const settled = await Promise.allSettled(chosen.map((step) => runStep(task, step, snapshot)));

  const runs: (StepRun & { patch: StepOutcome['patch'] })[] = [];
  let failure: TaskError | null = null;
  settled.forEach((result, i) => {
    const step = chosen[i]!;
    if (result.status === 'fulfilled') {
      const outcome = result.value;
      runs.push({ step: step.name, startedAt, attempt: outcome.attempt, durationMs: outcome.durationMs, logs: outcome.logs, commands: outcome.commands, patch: outcome.patch });
    } else {
      failure ??= describeStepFailure(step, result.reason);
    }
  });
  // Steps that succeeded keep their effects even when a sibling failed: their side effects happened.
  task.recordCycle(runs, mergePatches(snapshot, runs.map((run) => ({ step: run.step, patch: run.patch }))));
  if (failure && !task.terminal) task.fail(failure);
}

/** One step execution as an activity; its timeout and retry policy come from the step's file. */
function runStep(task: TaskBook, step: CatalogStep, data: TaskBook['data']): Promise<StepOutcome> {
  const { runStep: run } = wf.proxyActivities<TaskActivities>({
    startToCloseTimeout: step.timeoutMs,
    retry: {
      initialInterval: step.retry.initialIntervalMs,
      backoffCoefficient: step.retry.backoffCoefficient,
      ...(step.retry.maximumIntervalMs === undefined ? {} : { maximumInterval: step.retry.maximumIntervalMs }),
      maximumAttempts: step.retry.maximumAttempts,
      nonRetryableErrorTypes: step.retry.nonRetryableErrorTypes,
    },
    summary: step.name,
  });
  return run({ taskId: task.taskId, step: step.name, file: step.file, data });
}

async function loadCompiledCatalog(task: TaskBook): Promise<CompiledCatalog | undefined> {
  try {
    const catalog = await loadCatalog();
    task.catalogVersion = catalog.version;
    return compileCatalog(catalog);
  } catch (error) {
    task.fail({ step: '', message: wf.isCancellation(error) ? 'cancelled' : messageOf(error), attempts: 1, reason: 'catalog-invalid' });
    return undefined;
  }
}

function messageOf(error: unknown): string {
  const cause = error instanceof wf.ActivityFailure && error.cause ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

function listenForControl(task: TaskBook): { takeForcedStep(): string | null } {
  let forcedStep: string | null = null;
  const control = {
    /** The step a resume asked to run again, once. */
    takeForcedStep() {
      const step = forcedStep;
      forcedStep = null;
      return step;
    },
  };
  wf.setHandler(snapshotQuery, () => task.snapshot());
  wf.setHandler(progressQuery, (cursor) => ({
    state: task.state,
    cycle: task.cycle,
    trace: task.trace.slice(Math.max(0, cursor)),
    next: task.trace.length,
    conflicts: task.conflicts,
    error: task.error,
  }));
  wf.setHandler(
    resumeUpdate,
    () => {
      forcedStep = task.revive();
      return task.state;
    },
    {
      validator: () => {
        if (!task.needsOutsideHelp) throw new Error(`task is ${task.state}; only a task in error or attention can be resumed`);
      },
    },
  );
  wf.setHandler(
    stopUpdate,
    () => {
      task.state = 'stopped';
      return task.state;
    },
    {
      validator: () => {
        if (task.terminal) throw new Error(`task is already ${task.state}`);
      },
    },
  );
  return control;
}

// Keyed by task so that no state is shared between workflow executions in one worker context.
const published = new WeakMap<TaskBook, string>();

function publishSearchAttributes(task: TaskBook): void {
  const current = JSON.stringify([task.state, task.name, task.tags]);
  if (published.get(task) === current) return;
  published.set(task, current);
  wf.upsertSearchAttributes([
    { key: TASK_STATE_KEY, value: task.state },
    { key: TASK_NAME_KEY, value: task.name },
    { key: TASK_TAGS_KEY, value: task.tags },
  ]);
}
