import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { CURRENT_RULES, isSettled, TASK_STATES, type TaskSnapshot, type TaskState } from './model/task';
import { TASK_NAME_KEY, TASK_STATE_KEY, TASK_TAGS_KEY } from './model/search-attributes';
import { formatJsonPath, type JsonObject } from './model/json';
import { taskWorkflow } from './workflows';
import {
  eventsQuery,
  reloadUpdate,
  resumeUpdate,
  snapshotQuery,
  stopUpdate,
  updateDataUpdate,
  type TaskWorkflowInput,
} from './workflows/api';
import { sealStash, StashError, type StashKeys } from './runtime/stash';
import type { TaskEvent, TaskEventPage } from './model/events';
import { describeOverLimit, overDataLimit } from './cycle/data-limit';
import { explainAttention, type AttentionReason } from './explain';
import { WhenflowError, brandError } from './model/errors';

import { DEFAULT_TASK_LIMITS, DEFAULT_TASK_QUEUE } from './model/defaults';
export { DEFAULT_TASK_QUEUE };

const jsonObject = z
  .record(z.string(), z.json())
  .refine((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be a JSON object');

export const startTaskSchema = z.object({
  name: z.string().min(1).default('task'),
  tags: z.array(z.string().min(1)).default([]),
  data: jsonObject,
  taskId: z.string().min(1).optional(),
  /** With `taskId`: a task that already has this ID (running or ended) is kept and its ID returned (a redelivered webhook); Temporal's ID policies decide. */
  ifExists: z.enum(['fail', 'return-existing']).default('fail'),
  taskQueue: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  /** 1: every matching step runs one after another in rank order; more: parallel batches, merged as if run in rank order. */
  concurrency: z.number().int().min(1).default(DEFAULT_TASK_LIMITS.concurrency),
  /** A step of a parallel batch that met an earlier step's writes: run it again (default) or put the task in error. */
  onConflict: z.enum(['rerun', 'error']).default(DEFAULT_TASK_LIMITS.onConflict),
  maxStepRuns: z.number().int().min(1).default(DEFAULT_TASK_LIMITS.maxStepRuns),
  maxSubtasks: z.number().int().min(1).default(DEFAULT_TASK_LIMITS.maxSubtasks),
  /** Most bytes the task data may take as JSON (UTF-8); data over it is refused here, by steps and by updates. */
  maxDataBytes: z.number().int().min(1).default(DEFAULT_TASK_LIMITS.maxDataBytes),
  /** Most units of work of one recognize phase (default DEFAULT_TASK_LIMITS.maxRecognizeWork, 3,000,000). */
  maxRecognizeWork: z.number().int().min(1).optional(),
  /** History events after which a long task continues as new. */
  historyLimit: z.number().int().min(50).default(DEFAULT_TASK_LIMITS.historyLimit),
  /** Events of the task's stream each run keeps (older ones stay readable from earlier runs). */
  eventsKept: z.number().int().min(20).default(DEFAULT_TASK_LIMITS.eventsKept),
  /** Run these steps in this order (each one's condition is a guard), then end — or follow conditions with `thenCycle`. */
  sequence: z.array(z.string().min(1)).min(1).optional(),
  thenCycle: z.boolean().default(false),
  /**
   * Step names of the workspace, when the caller knows them: a sequence naming others is refused before
   * the task starts. (The task checks again against the catalog it loads, before any step runs.)
   */
  knownSteps: z.array(z.string()).optional(),
  /**
   * Key for `data.$stash` secrets (whenflow.yaml `secrets.key`), or several with ids (`secrets.keys`, the
   * first seals): they are sealed before they leave this process.
   */
  stashKey: z
    .union([
      z.instanceof(Buffer),
      z
        .array(z.object({ id: z.string(), key: z.instanceof(Buffer) }))
        .min(1)
        .readonly(),
    ])
    .nullable()
    .default(null),
});

export type StartTaskOptions = z.input<typeof startTaskSchema>;

export class TaskInputError extends WhenflowError {
  static {
    brandError(TaskInputError, 'TaskInputError');
  }

  constructor(readonly issues: { path: string; message: string }[]) {
    super(`invalid task: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

/** Refuses a sequence naming steps the workspace does not have, listing all of them. */
export function checkSequence(sequence: string[], knownSteps: string[]): void {
  const known = new Set(knownSteps);
  const unknown = [...new Set(sequence.filter((name) => !known.has(name)))];
  if (unknown.length > 0)
    throw new TaskInputError([
      { path: 'sequence', message: `unknown steps: ${unknown.join(', ')} (the workspace has: ${[...known].sort().join(', ') || 'none'})` },
    ]);
}

/** Starts a task and returns its handle as soon as the workflow exists. */
export async function startTask(client: Client, options: StartTaskOptions): Promise<WorkflowHandle<typeof taskWorkflow>> {
  const parsed = startTaskSchema.safeParse(options);
  if (!parsed.success) {
    throw new TaskInputError(parsed.error.issues.map((issue) => ({ path: formatJsonPath(issue.path), message: issue.message })));
  }
  const input = parsed.data;
  if (input.thenCycle && !input.sequence)
    throw new TaskInputError([{ path: 'thenCycle', message: 'only applies to a task started with a sequence' }]);
  if (input.sequence && input.knownSteps) checkSequence(input.sequence, input.knownSteps);
  const data = sealForTemporal(input.data as JsonObject, input.stashKey, 'data');
  // Measured as the task will hold it: secrets sealed.
  const over = overDataLimit(data, input.maxDataBytes);
  if (over) throw new TaskInputError([{ path: 'data', message: `is ${describeOverLimit(over)}` }]);
  return client.workflow.start(taskWorkflow, {
    taskQueue: input.taskQueue,
    workflowId: input.taskId ?? `task-${randomUUID()}`,
    // What the Temporal Web UI shows for the workflow in lists and at the top of its page.
    staticSummary: `whenflow task: ${input.name}`,
    ...(input.ifExists === 'return-existing'
      ? { workflowIdConflictPolicy: 'USE_EXISTING' as const, workflowIdReusePolicy: 'REJECT_DUPLICATE' as const }
      : {}),
    args: [
      {
        name: input.name,
        tags: input.tags,
        data,
        options: {
          rules: CURRENT_RULES,
          concurrency: input.concurrency,
          onConflict: input.onConflict,
          maxStepRuns: input.maxStepRuns,
          maxSubtasks: input.maxSubtasks,
          historyLimit: input.historyLimit,
          eventsKept: input.eventsKept,
          maxDataBytes: input.maxDataBytes,
          ...(input.maxRecognizeWork !== undefined ? { maxRecognizeWork: input.maxRecognizeWork } : {}),
        },
        ...(input.sequence ? { sequence: { steps: input.sequence, thenCycle: input.thenCycle } } : {}),
      },
    ],
    typedSearchAttributes: [
      { key: TASK_STATE_KEY, value: 'running' },
      { key: TASK_NAME_KEY, value: input.name },
      { key: TASK_TAGS_KEY, value: input.tags },
    ],
  });
}

/** A task's snapshot, and for a task in `attention` why no step matches its data. */
export type TaskView = TaskSnapshot & { attention?: AttentionReason };

/** The task's full state: data, result, trace, conflicts, error; and why it is in `attention` when it is. */
export async function getTask(client: Client, taskId: string): Promise<TaskView> {
  const handle = client.workflow.getHandle<typeof taskWorkflow>(taskId);
  const { status } = await handle.describe();
  // A finished workflow's result is the final snapshot; no worker is needed to read it.
  if (status.name === 'COMPLETED') return handle.result();
  if (status.name === 'TERMINATED') return terminatedTask(client, taskId);
  const snapshot: TaskView = await handle.query(snapshotQuery);
  if (snapshot.state !== 'attention') return snapshot;
  // Worked out from the catalog and eligibility the history recorded; the task itself is not asked.
  const attention = await explainAttention(client, taskId, snapshot.data).catch(() => null);
  return attention ? { ...snapshot, attention } : snapshot;
}

/**
 * A task whose workflow was terminated (`task stop` of a task that could not take the stop): `stopped`,
 * with its last snapshot when its history can still answer the query, else with what it was started with.
 */
async function terminatedTask(client: Client, taskId: string): Promise<TaskView> {
  const handle = client.workflow.getHandle<typeof taskWorkflow>(taskId);
  const last = await handle.query(snapshotQuery).catch(() => null);
  if (last) return { ...last, state: 'stopped', settled: true, deadlineAt: null };
  const input = await getTaskInput(client, taskId).catch(() => null);
  return {
    taskId,
    name: typeof input?.name === 'string' ? input.name : '',
    tags: Array.isArray(input?.tags) ? input.tags : [],
    state: 'stopped',
    data: input?.data && typeof input.data === 'object' && !Array.isArray(input.data) ? input.data : {},
    result: null,
    cycle: 0,
    stepRuns: 0,
    catalogVersion: '',
    trace: [],
    traceOffset: 0,
    conflicts: [],
    error: null,
    settled: true,
    deadlineAt: null,
  };
}

export interface WaitOptions {
  /** Called with each event of the task's stream, in order (steps finishing, state changes, arrivals). */
  onEvent?: (event: TaskEvent) => void;
  pollIntervalMs?: number;
  timeoutMs?: number;
}

export class TaskWaitTimeoutError extends WhenflowError {
  static {
    brandError(TaskWaitTimeoutError, 'TaskWaitTimeoutError');
  }

  constructor(
    readonly taskId: string,
    readonly timeoutMs: number,
  ) {
    super(`task ${taskId} did not settle within ${timeoutMs} ms`);
  }
}

/**
 * Waits until the task has settled: it ended, or it is in `attention` or `error` with no deadline pending
 * (a deadline ends it without outside help). Follows the task's event stream (`taskEvents`), the one
 * progress channel, by query: watching a task adds nothing to its history.
 */
export async function waitForTask(client: Client, taskId: string, options: WaitOptions = {}): Promise<TaskView> {
  const timeout = options.timeoutMs === undefined ? undefined : new AbortController();
  const timer = timeout && setTimeout(() => timeout.abort(), options.timeoutMs);
  try {
    const follow = {
      follow: true,
      until: 'settled',
      ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
    } as const;
    for await (const event of taskEvents(client, taskId, timeout ? { ...follow, signal: timeout.signal } : follow))
      options.onEvent?.(event);
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw error;
    // The workflow may have just completed and its worker gone: its result still has everything.
    const handle = client.workflow.getHandle<typeof taskWorkflow>(taskId);
    const { status } = await handle.describe();
    if (status.name !== 'COMPLETED') throw error;
    return handle.result();
  } finally {
    clearTimeout(timer);
  }
  if (timeout?.signal.aborted) throw new TaskWaitTimeoutError(taskId, options.timeoutMs ?? 0);
  return getTask(client, taskId);
}

/** Secrets never travel in plaintext: a task or update carrying `$stash` needs the workspace's stash key. */
function sealForTemporal(data: JsonObject, key: StashKeys | null, path: string): JsonObject {
  try {
    return sealStash(data, key);
  } catch (error) {
    if (error instanceof StashError) throw new TaskInputError([{ path: `${path}.$stash`, message: error.message }]);
    throw error;
  }
}

/** Merges new data into a task (RFC 7386 JSON Merge Patch: `null` deletes a key) and starts a new cycle. */
export async function updateTask(
  client: Client,
  taskId: string,
  patch: JsonObject,
  options: { stashKey?: StashKeys | null } = {},
): Promise<TaskState> {
  const parsed = jsonObject.safeParse(patch);
  if (!parsed.success)
    throw new TaskInputError(
      parsed.error.issues.map((issue) => ({ path: formatJsonPath(['patch', ...issue.path]), message: issue.message })),
    );
  const sealed = sealForTemporal(parsed.data as JsonObject, options.stashKey ?? null, 'patch');
  return toOpenTask(client, taskId, (handle) => handle.executeUpdate(updateDataUpdate, { args: [sealed] }));
}

/** A request to a task that has already ended (done, ignored, stopped or expired). */
export class TaskClosedError extends WhenflowError {
  static {
    brandError(TaskClosedError, 'TaskClosedError');
  }

  constructor(
    readonly taskId: string,
    readonly state: string,
  ) {
    super(`task ${taskId} has already ended (${state})`);
  }
}

/** Temporal answers an update to a closed workflow with "not found"; say what really happened. */
async function toOpenTask<T>(
  client: Client,
  taskId: string,
  send: (handle: WorkflowHandle<typeof taskWorkflow>) => Promise<T>,
): Promise<T> {
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

/** How long `stopTask` waits for the task to take the stop before it terminates the workflow. */
export const STOP_DELIVERY_TIMEOUT_MS = 15_000;

/**
 * Ends a task that is not terminal yet, in any state: `stopped` when the task took the stop (its steps
 * and calls cancelled, its subtasks stopped); `terminated` when it could not take it in time — its
 * workflow tasks keep failing, or no worker serves it — and the workflow was terminated instead.
 * A task that refuses the stop (it has ended) is an error, as before.
 */
export async function stopTask(
  client: Client,
  taskId: string,
  options: { deliveryTimeoutMs?: number } = {},
): Promise<'stopped' | 'terminated'> {
  const timeoutMs = options.deliveryTimeoutMs ?? STOP_DELIVERY_TIMEOUT_MS;
  try {
    await toOpenTask(client, taskId, (handle) => client.withDeadline(Date.now() + timeoutMs, () => handle.executeUpdate(stopUpdate)));
    return 'stopped';
  } catch (error) {
    if (error instanceof TaskClosedError || error instanceof WorkflowUpdateFailedError || error instanceof WorkflowNotFoundError)
      throw error;
    const handle = client.workflow.getHandle(taskId);
    const { status } = await handle.describe();
    if (status.name !== 'RUNNING') return 'stopped';
    const why = error instanceof Error ? error.message : String(error);
    await handle.terminate(`whenflow task stop: the task did not take the stop request within ${timeoutMs} ms (${why})`);
    return 'terminated';
  }
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
  if (!parsed.success)
    throw new TaskInputError(parsed.error.issues.map((issue) => ({ path: formatJsonPath(issue.path), message: issue.message })));
  const { state, name, tag, limit } = parsed.data;
  const clauses = [`WorkflowType = "taskWorkflow"`];
  if (state) clauses.push(`${TASK_STATE_KEY.name} = ${visibilityLiteral(state)}`);
  if (name) clauses.push(`${TASK_NAME_KEY.name} = ${visibilityLiteral(name)}`);
  if (tag) clauses.push(`${TASK_TAGS_KEY.name} = ${visibilityLiteral(tag)}`);
  const tasks: TaskSummary[] = [];
  for await (const execution of client.workflow.list({ query: clauses.join(' AND ') })) {
    // A terminated workflow (`task stop` of a task that could not take the stop) kept its last published state.
    const taskState = execution.status.name === 'TERMINATED' ? 'stopped' : execution.typedSearchAttributes.get(TASK_STATE_KEY);
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
  const firstRunId = description.raw.workflowExecutionInfo?.firstRunId || description.runId;
  const { input } = await runInput(client, taskId, firstRunId);
  if (!input) throw new Error(`task ${taskId} has no recorded input`);
  return input;
}

/** Starts a new task with the same name, tags, options and initial data as an existing one. */
export async function cloneTask(client: Client, taskId: string, options: { taskQueue?: string } = {}): Promise<string> {
  const input = await getTaskInput(client, taskId);
  // On the original's task queue unless told otherwise: the workers of its workspace serve it.
  const taskQueue = options.taskQueue ?? (await client.workflow.getHandle(taskId).describe()).taskQueue;
  const handle = await startTask(client, {
    name: input.name,
    tags: input.tags,
    data: input.data,
    ...input.options,
    ...(input.sequence ? { sequence: input.sequence.steps, thenCycle: input.sequence.thenCycle } : {}),
    taskQueue,
  });
  return handle.workflowId;
}

export interface TaskEventsOptions {
  /** Sequence number of the last event already seen; 0 (the default) reads from the first event. */
  after?: number;
  /** Keep reading as events happen, until the task has ended (or settled, with `until: 'settled'`). */
  follow?: boolean;
  /** With `follow`: stop at the end of the task (default), or as soon as it is in attention or error too. */
  until?: 'ended' | 'settled';
  pollIntervalMs?: number;
  signal?: AbortSignal;
}

/**
 * A task's event stream from a cursor, in order, without gaps: the running task answers a query for
 * the events it holds; older ones come from the first history event of earlier runs (each run's input
 * carries every event of the run before). Following polls the query, never the history.
 */
export async function* taskEvents(client: Client, taskId: string, options: TaskEventsOptions = {}): AsyncGenerator<TaskEvent> {
  const handle = client.workflow.getHandle<typeof taskWorkflow>(taskId);
  const interval = options.pollIntervalMs ?? 200;
  let after = options.after ?? 0;
  for (;;) {
    const page: TaskEventPage = await handle.query(eventsQuery, after);
    if (page.oldest > after + 1) {
      for (const event of await eventsOfEarlierRuns(client, taskId, after, page.oldest)) {
        yield event;
        after = event.seq;
      }
      // Whatever is still missing was dropped for good (a run that could not continue as new in time).
      after = Math.max(after, page.oldest - 1);
    }
    for (const event of page.events) {
      yield event;
      after = event.seq;
    }
    if (after + 1 < page.next) continue;
    const ended = page.events.some((event) => event.type === 'task-ended') || isTerminalTaskState(page.state);
    if (!options.follow || ended || (options.until === 'settled' && (page.settled ?? isSettled(page.state)))) return;
    if (options.signal?.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

function isTerminalTaskState(state: TaskState): boolean {
  return isSettled(state) && state !== 'attention' && state !== 'error';
}

/** Events with `after < seq < before`, from the inputs of the runs before the current one. */
async function eventsOfEarlierRuns(client: Client, taskId: string, after: number, before: number): Promise<TaskEvent[]> {
  const found = new Map<number, TaskEvent>();
  let runId: string | undefined = (await client.workflow.getHandle(taskId).describe()).runId;
  while (runId) {
    const run: { input: TaskWorkflowInput | undefined; previousRunId: string | undefined } = await runInput(client, taskId, runId);
    const carried = run.input?.carried?.task.events?.events ?? [];
    for (const event of carried) if (event.seq > after && event.seq < before) found.set(event.seq, event);
    if (carried.length === 0 || carried[0]!.seq <= after + 1) break;
    runId = run.previousRunId;
  }
  return [...found.values()].sort((a, b) => a.seq - b.seq);
}

/** The input of one run (its first history event only) and the run it continued from. */
async function runInput(
  client: Client,
  taskId: string,
  runId: string,
): Promise<{ input: TaskWorkflowInput | undefined; previousRunId: string | undefined }> {
  const response = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId: taskId, runId },
    maximumPageSize: 1,
  });
  const started = response.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  const input = payload ? await client.options.loadedDataConverter.payloadConverter.fromPayload<TaskWorkflowInput>(payload) : undefined;
  return { input, previousRunId: started?.continuedExecutionRunId || undefined };
}

/**
 * Follows a task's event stream until it settles (terminal, attention or error), handing each event to
 * `onEvent`, and returns the settled task.
 */
export async function watchTask(
  client: Client,
  taskId: string,
  onEvent: (event: TaskEvent) => void,
  options: { signal?: AbortSignal } = {},
): Promise<TaskView> {
  for await (const event of taskEvents(client, taskId, {
    follow: true,
    until: 'settled',
    ...(options.signal ? { signal: options.signal } : {}),
  }))
    onEvent(event);
  return getTask(client, taskId);
}
