import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { JsonObject } from '../model/json';
import type { CarriedTask } from '../cycle/task-book';
import type { TaskEventPage } from '../model/events';
import type { Catalog, TaskError, TaskOptions, TaskSnapshot, TaskState } from '../model/task';

/** Input of one task workflow execution. */
export interface TaskWorkflowInput {
  name: string;
  tags: string[];
  data: JsonObject;
  options: TaskOptions;
  /** Run these steps in this order first (each one's condition is a guard); then end, or follow conditions. */
  sequence?: { steps: string[]; thenCycle: boolean };
  /** Set when a long task continued as new: where the previous run left off. */
  carried?: {
    task: CarriedTask;
    /** The catalog the task was using: a new run does not silently switch to changed step files. */
    catalog: Catalog;
    parkedUntil: number | null;
    deadlineAt: number | null;
  };
}

export const snapshotQuery = defineQuery<TaskSnapshot>('whenflow.snapshot');
/** The event stream after a sequence number (0: from the start), one page at a time. */
export const eventsQuery = defineQuery<TaskEventPage, [after: number, limit?: number]>('whenflow.events');
/** Runs the failed step (or connector call) again, after it was fixed, and goes on with the cycle. */
export const resumeUpdate = defineUpdate<TaskState>('whenflow.resume');
/** Ends a task that is not yet terminal, and its running subtasks. */
export const stopUpdate = defineUpdate<TaskState>('whenflow.stop');
/** The same as stopUpdate, for senders that can only signal (a parent stopping its subtasks). */
export const stopSignal = defineSignal('whenflow.stop');
/** A parent resuming a subtask it waits for, after the subtask's error put the parent in error. */
export const resumeSignal = defineSignal('whenflow.resume');
/** What a subtask tells its parent when it is in `error` or `attention`. */
export interface SubtaskHelpReport {
  taskId: string;
  state: TaskState;
  error: TaskError | null;
}
export const subtaskNeedsHelpSignal = defineSignal<[SubtaskHelpReport]>('whenflow.subtaskNeedsHelp');
/** Loads the step catalog again (steps changed on disk) and runs a new cycle with it. */
export const reloadUpdate = defineUpdate<string>('whenflow.reload');
/** Merges new data from outside (RFC 7386 JSON Merge Patch) and starts a new cycle. */
export const updateDataUpdate = defineUpdate<TaskState, [patch: JsonObject]>('whenflow.update');
/**
 * The data snapshot a running step was scheduled with, by its execution ID: how a step activity whose
 * input carries only a reference to large data reads it (queries are not recorded in history).
 */
export const stepDataQuery = defineQuery<JsonObject, [executionId: string]>('whenflow.stepData');
