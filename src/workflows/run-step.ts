import * as wf from '@temporalio/workflow';
import type { RunStepInput, TaskActivities } from '../activities';
import type { TaskBook } from '../cycle/task-book';
import type { RunAheadRequest } from '../cycle/run-ahead';
import { stepDataInput } from '../cycle/step-data';
import type { JsonObject } from '../model/json';
import type { CatalogStep, StepOutcome } from '../model/task';
import { stepDataQuery } from './api';
import { heartbeatTimeoutFor, temporalRetryPolicy } from './effects';
import { LOCAL_STEPS_AT_START_PATCH, LOCAL_STEPS_PATCH } from './patches';

/** Runs that decided on local steps when they started (LOCAL_STEPS_AT_START_PATCH). */
const localStepsAtStart = new WeakSet<TaskBook>();

/** At the start of every run, before anything else is scheduled: whether its local steps run locally. */
export function decideLocalStepsAtStart(task: TaskBook): void {
  if (wf.patched(LOCAL_STEPS_AT_START_PATCH)) localStepsAtStart.add(task);
}

/**
 * One step execution as an activity; its timeout and retry policy come from the step's file. A step the
 * catalog marks `local` whose data goes inline runs as a local activity: within the workflow task, with
 * no activity task and no extra workflow task, recorded as one marker. Data served by reference needs
 * the stepData query, which is not answered while a workflow task runs local activities: such a step
 * stays a regular activity.
 */
export function runStep(
  task: TaskBook,
  step: CatalogStep,
  cycle: number,
  trackReads: boolean,
  ahead: RunAheadRequest | null = null,
): Promise<StepOutcome> {
  const executionId = `${task.taskId}:${cycle}:${step.name}`;
  const mayRunLocally = step.local === true && (localStepsAtStart.has(task) || wf.patched(LOCAL_STEPS_PATCH));
  // Replaying, the input of a regular step is already in history and is not sent again: measuring the data
  // would only slow the replay down. A step that may run locally needs the measure either way: whether it
  // ran locally depends on it. A step still running may read its snapshot, so it is served either way.
  const replaying = wf.workflowInfo().unsafe.isReplaying;
  const data = replaying && !mayRunLocally ? REPLAYED_INPUT : stepDataInput(task.data);
  const maxDataBytes = task.options.maxDataBytes;
  const tracking = trackReads ? { trackReads } : {};
  const input: RunStepInput = {
    taskId: task.taskId,
    executionId,
    step: step.name,
    file: step.file,
    name: task.name,
    tags: task.tags,
    maxDataBytes,
    ...tracking,
    ...data,
  };
  if ('data' in data && mayRunLocally) {
    // Running ahead, the activity may take its first step's timeout and a further step's.
    if (!ahead) return localStep(step, step.timeoutMs)(input);
    return localStep(step, step.timeoutMs + ahead.longestTimeoutMs)({ ...input, timeoutMs: step.timeoutMs, ahead });
  }
  if ('data' in data) return regularStep(step)(input);
  // Large data stays out of the activity input (history): the step reads this snapshot through stepDataQuery.
  const served = servedSnapshots(task);
  served.set(executionId, task.data);
  return regularStep(step)(input).finally(() => served.delete(executionId));
}

function regularStep(step: CatalogStep): TaskActivities['runStep'] {
  return wf.proxyActivities<TaskActivities>({
    startToCloseTimeout: step.timeoutMs,
    heartbeatTimeout: heartbeatTimeoutFor(step.timeoutMs),
    retry: temporalRetryPolicy(step.retry),
    summary: step.name,
  }).runStep;
}

/** The same timeout, retry policy and cancellation (the scope's) as a regular step; no heartbeat timeout. */
function localStep(step: CatalogStep, timeoutMs: number): TaskActivities['runStep'] {
  return wf.proxyLocalActivities<TaskActivities>({
    startToCloseTimeout: timeoutMs,
    retry: temporalRetryPolicy(step.retry),
    summary: step.name,
  }).runStep;
}

/** Stands for the input of a step activity scheduled before a replay; never sent. */
const REPLAYED_INPUT = { dataRef: { chars: 0, hash: 'replayed' } } as const;

// Keyed by task so that no state is shared between workflow executions in one worker context.
const snapshotsByTask = new WeakMap<TaskBook, Map<string, JsonObject>>();

/** The snapshots running steps read by reference, by execution ID; answers stepDataQuery. */
function servedSnapshots(task: TaskBook): Map<string, JsonObject> {
  const known = snapshotsByTask.get(task);
  if (known) return known;
  const snapshots = new Map<string, JsonObject>();
  snapshotsByTask.set(task, snapshots);
  wf.setHandler(stepDataQuery, (executionId) => {
    const snapshot = snapshots.get(executionId);
    if (!snapshot) throw new Error(`no running step execution ${executionId} of task ${task.taskId} reads its data by reference`);
    return snapshot;
  });
  return snapshots;
}
