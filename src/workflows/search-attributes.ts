import * as wf from '@temporalio/workflow';
import type { TaskBook } from '../cycle/task-book';
import { TASK_NAME_KEY, TASK_STATE_KEY, TASK_TAGS_KEY } from '../model/search-attributes';

// Keyed by task so that no state is shared between workflow executions in one worker context.
const published = new WeakMap<TaskBook, string>();

const attributesKey = (state: string, name: string, tags: readonly string[]) => JSON.stringify([state, name, tags]);

/**
 * A new task's search attributes were set by whoever started it (the client, or the parent of a subtask):
 * taken as published, the same values are not upserted again, which would cost an event and a visibility
 * write for every task.
 */
export function adoptStartAttributes(task: TaskBook): void {
  const attributes = wf.workflowInfo().typedSearchAttributes;
  const state = attributes.get(TASK_STATE_KEY);
  const name = attributes.get(TASK_NAME_KEY);
  const tags = attributes.get(TASK_TAGS_KEY);
  if (state !== undefined && name !== undefined && tags !== undefined) published.set(task, attributesKey(state, name, tags));
}

/** The task's state, name and tags for listing (upserted only when they changed), and its Web UI details. */
export function publishSearchAttributes(task: TaskBook): void {
  describeForWebUi(task);
  const current = attributesKey(task.state, task.name, task.tags);
  if (published.get(task) === current) return;
  published.set(task, current);
  wf.upsertSearchAttributes([
    { key: TASK_STATE_KEY, value: task.state },
    { key: TASK_NAME_KEY, value: task.name },
    { key: TASK_TAGS_KEY, value: task.tags },
  ]);
}

/**
 * The workflow's current details in the Temporal Web UI, where every live task shows as "Running": the
 * task's own state, cycle, last step, and its error. Details are read by a query, never recorded in history.
 */
function describeForWebUi(task: TaskBook): void {
  const last = task.trace[task.trace.length - 1];
  const lines = [`**${task.name}**: ${task.state}`, `cycle ${task.cycle}${last ? `, last step ${last.step}` : ''}`];
  if (task.error) lines.push(`error in ${task.error.step || 'the catalog'}: ${task.error.message}`);
  if (task.state === 'attention')
    lines.push('no step matches the data and nothing is pending: new data, a reload or a resume makes it run again');
  wf.setCurrentDetails(lines.join('\n\n'));
}
