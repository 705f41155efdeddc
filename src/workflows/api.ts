import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { TaskOptions, TaskSnapshot, TaskState, TraceEntry, ConflictRecord, TaskError } from '../model/task';
import type { JsonObject } from '../model/json';

/** Input of one task workflow execution. */
export interface TaskWorkflowInput {
  name: string;
  tags: string[];
  data: JsonObject;
  options: TaskOptions;
}

/** A cheap view for progress polling: the trace from a cursor, not the whole data. */
export interface TaskProgress {
  state: TaskState;
  cycle: number;
  /** Trace entries with index >= the cursor asked for. */
  trace: TraceEntry[];
  /** Index the next poll should start from. */
  next: number;
  conflicts: ConflictRecord[];
  error: TaskError | null;
}

export const snapshotQuery = defineQuery<TaskSnapshot>('whenflow.snapshot');
export const progressQuery = defineQuery<TaskProgress, [cursor: number]>('whenflow.progress');
/** Runs the failed step again (after it was fixed) and goes on with the cycle. */
export const resumeUpdate = defineUpdate<TaskState>('whenflow.resume');
/** Ends a task that is not yet terminal. */
export const stopUpdate = defineUpdate<TaskState>('whenflow.stop');
