import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { DEFAULT_TASK_OPTIONS, isSettled, TASK_STATES, type TaskSnapshot, type TaskState, type TraceEntry } from './model/task';
import { TASK_NAME_KEY, TASK_STATE_KEY, TASK_TAGS_KEY } from './model/search-attributes';
import type { JsonObject } from './model/json';
import { taskWorkflow } from './workflows';
import { progressQuery, reloadUpdate, resumeUpdate, snapshotQuery, stopUpdate, updateDataUpdate, type TaskProgress, type TaskWorkflowInput } from './workflows/api';
import { sealStash, StashError } from './runtime/stash';

export { DEFAULT_TASK_QUEUE } from './worker';

const jsonObject = z.record(z.string(), z.json()).refine((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be a JSON object');

export const startTaskSchema = z.object({
  name: z.string().min(1).default('task'),
  tags: z.array(z.string().min(1)).default([]),
  data: jsonObject,
  taskId: z.string().min(1).optional(),
  taskQueue: z.string().min(1).default('whenflow'),
  concurrency: z.number().int().min(1).default(DEFAULT_TASK_OPTIONS.concurrency),
  maxStepRuns: z.number().int().min(1).default(DEFAULT_TASK_OPTIONS.maxStepRuns),
  maxSubtasks: z.number().int().min(1).default(DEFAULT_TASK_OPTIONS.maxSubtasks),
  /** History events after which a long task continues as new. */
  historyLimit: z.number().int().min(50).default(DEFAULT_TASK_OPTIONS.historyLimit),
  /** Key for `data.$stash` secrets (whenflow.yaml `secrets.key`): they are sealed before they leave this process. */
  stashKey: z.instanceof(Buffer).nullable().default(null),
});

export type StartTaskOptions = z.input<typeof startTaskSchema>;

export class TaskInputError extends Error {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(`invalid task: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'TaskInputError';
  }
}

/** Starts a task and returns its handle as soon as the workflow exists. */
export async function startTask(client: Client, options: StartTaskOptions): Promise<WorkflowHandle<typeof taskWorkflow>> {
  const parsed = startTaskSchema.safeParse(options);
  if (!parsed.success) {
    throw new TaskInputError(parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })));
  }
  const input = parsed.data;
  const data = sealForTemporal(input.data as JsonObject, input.stashKey, 'data');
  return client.workflow.start(taskWorkflow, {
    taskQueue: input.taskQueue,
    workflowId: input.taskId ?? `task-${randomUUID()}`,
    args: [{ name: input.name, tags: input.tags, data, options: { concurrency: input.concurrency, maxStepRuns: input.maxStepRuns, maxSubtasks: input.maxSubtasks, historyLimit: input.historyLimit } }],
    typedSearchAttributes: [
      { key: TASK_STATE_KEY, value: 'running' },
      { key: TASK_NAME_KEY, value: input.name },
      { key: TASK_TAGS_KEY, value: input.tags },
    ],
  });
}

/** The task's full state: data, result, trace, conflicts, error. */
export async function getTask(client: Client, taskId: string): Promise<TaskSnapshot> {
  const handle = client.workflow.getHandle<typeof taskWorkflow>(taskId);
  const { status } = await handle.describe();
  // A finished workflow's result is the final snapshot; no worker is needed to read it.
  if (status.name === 'COMPLETED') return handle.result();
  return handle.query(snapshotQuery);
}

export interface WaitOptions {
  /** Called with each new trace entry, in order, as steps finish. */
  onStep?: (entry: TraceEntry, progress: TaskProgress) => void;
  pollIntervalMs?: number;
  timeoutMs?: number;
}

export class TaskWaitTimeoutError extends Error {
  constructor(readonly taskId: string, readonly timeoutMs: number) {
    super(`task ${taskId} did not settle within ${timeoutMs} ms`);
    this.name = 'TaskWaitTimeoutError';
  }
}

/**
 * Waits until the task is terminal, `attention` or `error`, reporting progress as it goes.
 * Polls a query (not an update), so watching a task adds nothing to its history.
 */
export async function waitForTask(client: Client, taskId: string, options: WaitOptions = {}): Promise<TaskSnapshot> {
  const handle = client.workflow.getHandle<typeof taskWorkflow>(taskId);
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  const interval = options.pollIntervalMs ?? 100;
  let cursor = 0;
  for (;;) {
    let progress: TaskProgress;
    try {
      progress = await handle.query(progressQuery, cursor);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw error;
      // The workflow may have just completed and its worker gone: its result still has everything.
      const { status } = await handle.describe();
      if (status.name !== 'COMPLETED') throw error;
      const final = await handle.result();
      for (const entry of final.trace.slice(cursor)) options.onStep?.(entry, { ...final, trace: [entry], next: final.trace.length });
      return final;
    }
    for (const entry of progress.trace) options.onStep?.(entry, progress);
    cursor = progress.next;
    if (isSettled(progress.state)) return getTask(client, taskId);
    if (Date.now() > deadline) throw new TaskWaitTimeoutError(taskId, options.timeoutMs ?? 0);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Secrets never travel in plaintext: a task or update carrying `$stash` needs the workspace's stash key. */
function sealForTemporal(data: JsonObject, key: Buffer | null, path: string): JsonObject {
  try {
    return sealStash(data, key);
  } catch (error) {
    if (error instanceof StashError) throw new TaskInputError([{ path: `${path}.$stash`, message: error.message }]);
    throw error;
  }
}

/** Merges new data into a task (RFC 7386 JSON Merge Patch: `null` deletes a key) and starts a new cycle. */
export async function updateTask(client: Client, taskId: string, patch: JsonObject, options: { stashKey?: Buffer | null } = {}): Promise<TaskState> {
  const parsed = jsonObject.safeParse(patch);
  if (!parsed.success) throw new TaskInputError(parsed.error.issues.map((issue) => ({ path: ['patch', ...issue.path.map(String)].join('.'), message: issue.message })));
  const sealed = sealForTemporal(parsed.data as JsonObject, options.stashKey ?? null, 'patch');
  return toOpenTask(client, taskId, (handle) => handle.executeUpdate(updateDataUpdate, { args: [sealed] }));
}

/** A request to a task that has already ended (done, ignored, stopped or expired). */
export class TaskClosedError extends Error {
  constructor(
    readonly taskId: string,
    readonly state: string,
  ) {
    super(`task ${taskId} has already ended (${state})`);
    this.name = 'TaskClosedError';
  }
}

/** Temporal answers an update to a closed workflow with "not found"; say what really happened. */
async function toOpenTask<T>(client: Client, taskId: string, send: (handle: WorkflowHandle<typeof taskWorkflow>) => Promise<T>): Promise<T> {
  const handle = client.workflow.getHandle<typeof taskWorkflow>(taskId);
  try {
    return await send(handle);
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    const description = await handle.describe().catch(() => null);
    if (description && description.status.name !== 'RUNNING') {
      throw new TaskClosedError(taskId, description.typedSearchAttributes.get(TASK_STATE_KEY) ?? description.status.name.toLowerCase());
    }
    throw error;
  }
}

/** Runs a task's failed step again (after the step file was fixed); the task goes on from there. */
export async function resumeTask(client: Client, taskId: string): Promise<void> {
  await toOpenTask(client, taskId, (handle) => handle.executeUpdate(resumeUpdate));
}

/** Makes a task load the step files again (after they changed) and run a new cycle with them. */
export async function reloadTask(client: Client, taskId: string): Promise<void> {
  await toOpenTask(client, taskId, (handle) => handle.executeUpdate(reloadUpdate));
}

/** Ends a task that is not terminal yet. */
export async function stopTask(client: Client, taskId: string): Promise<void> {
  await toOpenTask(client, taskId, (handle) => handle.executeUpdate(stopUpdate));
}

export interface TaskSummary {
  taskId: string;
  name: string;
  state: TaskState | 'unknown';
  tags: string[];
  startedAt: string;
  closedAt: string | null;
}

export const listTasksSchema = z.object({
  state: z.enum(TASK_STATES).optional(),
  name: z.string().min(1).optional(),
  tag: z.string().min(1).optional(),
  limit: z.number().int().min(1).default(100),
});

/** Quotes a value for a Temporal visibility query. */
function visibilityLiteral(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Tasks by state, name and tag, newest first, through Temporal visibility (search attributes). */
export async function listTasks(client: Client, filter: z.input<typeof listTasksSchema> = {}): Promise<TaskSummary[]> {
  const parsed = listTasksSchema.safeParse(filter);
  if (!parsed.success) throw new TaskInputError(parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })));
  const { state, name, tag, limit } = parsed.data;
  const clauses = [`WorkflowType = "taskWorkflow"`];
  if (state) clauses.push(`${TASK_STATE_KEY.name} = ${visibilityLiteral(state)}`);
  if (name) clauses.push(`${TASK_NAME_KEY.name} = ${visibilityLiteral(name)}`);
  if (tag) clauses.push(`${TASK_TAGS_KEY.name} = ${visibilityLiteral(tag)}`);
  const tasks: TaskSummary[] = [];
  for await (const execution of client.workflow.list({ query: clauses.join(' AND ') })) {
    const taskState = execution.typedSearchAttributes.get(TASK_STATE_KEY);
    tasks.push({
      taskId: execution.workflowId,
      name: execution.typedSearchAttributes.get(TASK_NAME_KEY) ?? '',
      state: (TASK_STATES as readonly string[]).includes(taskState ?? '') ? (taskState as TaskState) : 'unknown',
      tags: execution.typedSearchAttributes.get(TASK_TAGS_KEY) ?? [],
      startedAt: execution.startTime.toISOString(),
      closedAt: execution.closeTime?.toISOString() ?? null,
    });
    if (tasks.length >= limit) break;
  }
  return tasks;
}

/** The input a task was started with (its first history event), e.g. to clone it. */
export async function getTaskInput(client: Client, taskId: string): Promise<TaskWorkflowInput> {
  // A long task continues as new; its initial input is in the history of its first run.
  const description = await client.workflow.getHandle(taskId).describe();
  const firstRunId = description.raw.workflowExecutionInfo?.firstRunId || undefined;
  const history = await client.workflow.getHandle(taskId, firstRunId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  const decoded = payload ? await client.options.loadedDataConverter.payloadConverter.fromPayload<TaskWorkflowInput>(payload) : undefined;
  if (!decoded) throw new Error(`task ${taskId} has no recorded input`);
  return decoded;
}

/** Starts a new task with the same name, tags, options and initial data as an existing one. */
export async function cloneTask(client: Client, taskId: string, options: { taskQueue?: string } = {}): Promise<string> {
  const input = await getTaskInput(client, taskId);
  const handle = await startTask(client, {
    name: input.name,
    tags: input.tags,
    data: input.data,
    ...input.options,
    ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
  });
  return handle.workflowId;
}
