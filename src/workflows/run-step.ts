import * as wf from '@temporalio/workflow';
import type { TaskActivities } from '../activities';
import type { TaskBook } from '../cycle/task-book';
import { stepDataInput } from '../cycle/step-data';
import type { JsonObject } from '../model/json';
import type { CatalogStep, StepOutcome } from '../model/task';
import { stepDataQuery } from './api';
import { heartbeatTimeoutFor, temporalRetryPolicy } from './effects';

/** One step execution as an activity; its timeout and retry policy come from the step's file. */
export function runStep(task: TaskBook, step: CatalogStep, cycle: number, trackReads: boolean): Promise<StepOutcome> {
  const { runStep: run } = wf.proxyActivities<TaskActivities>({
    startToCloseTimeout: step.timeoutMs,
    heartbeatTimeout: heartbeatTimeoutFor(step.timeoutMs),
    retry: temporalRetryPolicy(step.retry),
    summary: step.name,
  });
  const executionId = `${task.taskId}:${cycle}:${step.name}`;
  // Replaying, the input is already in history and is not sent again: measuring the data would only slow
  // the replay down. A step still running may read its snapshot, so it is served either way.
  const replaying = wf.workflowInfo().unsafe.isReplaying;
  const data = replaying ? REPLAYED_INPUT : stepDataInput(task.data);
  const maxDataBytes = task.options.maxDataBytes;
  const tracking = trackReads ? { trackReads } : {};
  if ('data' in data) return run({ taskId: task.taskId, executionId, step: step.name, file: step.file, name: task.name, tags: task.tags, maxDataBytes, ...tracking, ...data });
  // Large data stays out of the activity input (history): the step reads this snapshot through stepDataQuery.
  const served = servedSnapshots(task);
  served.set(executionId, task.data);
  return run({ taskId: task.taskId, executionId, step: step.name, file: step.file, name: task.name, tags: task.tags, maxDataBytes, ...tracking, ...data }).finally(() => served.delete(executionId));
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

