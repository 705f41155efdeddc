import pc from 'picocolors';
import type { Client } from '@temporalio/client';
import {
  checkSequence,
  cloneTask,
  getTask,
  listTasks,
  reloadTask,
  resumeTask,
  startTask,
  stopTask,
  taskEvents,
  updateTask,
  watchTask,
  type TaskSummary,
} from '../../client';
import type { TaskEvent } from '../../model/events';
import { isJsonObject, type JsonObject } from '../../model/json';
import { TASK_STATES, type TaskSnapshot, type TaskState, type TraceEntry } from '../../model/task';
import { describeMixedCatalogs } from '../../observability/catalog-peers';
import { queuePollerIdentities } from '../../observability/catalog-watch';
import { maskStashForDisplay } from '../../runtime/stash';
import {
  defaultWorkspaceConfig,
  loadWorkspaceConfig,
  workspaceTaskQueue,
  workspaceTaskSettings,
  stashKeysOf,
  type WorkspaceConfig,
} from '../../workspace/config';
import { withSession } from '../connect';
import { UsageError } from '../errors';
import { readTaskData } from '../input';
import { describeConflict, formatAttention, formatEvent, formatFinal, toRunJson } from '../output';
import { readWorkspace } from '../input';
import { table } from '../table';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** The configuration of `-w`'s workspace (its defaults without one), for commands that start or change tasks. */
async function configOf(workspace: string | undefined): Promise<WorkspaceConfig> {
  if (!workspace) return defaultWorkspaceConfig();
  const { config, problems } = await loadWorkspaceConfig(workspace);
  if (problems.length > 0)
    throw new UsageError(`whenflow.yaml of ${workspace}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return config;
}

/** Progress lines for people, from the event stream. */
function showProgress(print: (line: string) => void): (event: TaskEvent) => void {
  return (event) => {
    const line = formatEvent(event);
    if (line !== null) print(line);
  };
}

/** With a workspace, a sequence naming unknown steps is refused before the task starts. */
async function checkSequenceAgainst(workspace: string | undefined, sequence: string[] | undefined): Promise<void> {
  if (!workspace || !sequence) return;
  const ws = await readWorkspace(workspace);
  checkSequence(
    sequence,
    ws.catalog.steps.map((step) => step.name),
  );
}

export interface TaskNewOptions {
  file?: string;
  data?: string;
  wait: boolean;
  tag?: string[];
  taskQueue?: string;
  workspace?: string;
  sequence?: string[];
  thenCycle: boolean;
  concurrency?: number;
  onConflict?: 'rerun' | 'error';
  json: boolean;
}

/** Starts a task; with `--wait`, returns the settled task (for the exit code). */
export async function taskNew(name: string, opts: TaskNewOptions, io: Io): Promise<TaskSnapshot | null> {
  const data = await readTaskData(opts);
  if (opts.thenCycle && !opts.sequence) throw new UsageError('--then-cycle needs --sequence');
  await checkSequenceAgainst(opts.workspace, opts.sequence);
  // The workspace's stash key and `defaults` task limits apply to the task.
  const config = await configOf(opts.workspace);
  const settings = {
    ...workspaceTaskSettings(config),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.onConflict ? { onConflict: opts.onConflict } : {}),
  };
  const sequence = opts.sequence ? { sequence: opts.sequence, thenCycle: opts.thenCycle } : {};
  return withSession(async ({ client }) => {
    // The workspace's own queue: its worker (`whenflow dev` or `worker` there) runs the task.
    const taskQueue = opts.taskQueue ?? workspaceTaskQueue(config, opts.workspace ?? '.');
    await warnOfMixedCatalogs(client, taskQueue, io);
    const handle = await startTask(client, { ...settings, name, tags: opts.tag ?? [], data, taskQueue, ...sequence });
    if (!opts.wait) {
      io.out(opts.json ? JSON.stringify({ taskId: handle.workflowId }) : handle.workflowId);
      return null;
    }
    io.err(`task ${handle.workflowId} started`);
    const final = await watchTask(client, handle.workflowId, showProgress(io.err));
    io.out(opts.json ? JSON.stringify(toRunJson(final)) : formatFinal(final));
    return final;
  });
}

/** Workers of the queue serving different step catalogs run the task by two sets of rules: say so (a failed look-up says nothing). */
async function warnOfMixedCatalogs(client: Client, taskQueue: string, io: Io): Promise<void> {
  const identities = await queuePollerIdentities(client, client.options.namespace, taskQueue).catch(() => []);
  const warning = describeMixedCatalogs(taskQueue, identities);
  if (warning) io.err(pc.yellow(warning));
}

function parseState(state: string | undefined): TaskState | undefined {
  if (state === undefined) return undefined;
  if (!(TASK_STATES as readonly string[]).includes(state))
    throw new UsageError(`--state must be one of ${TASK_STATES.join(', ')}; got "${state}"`);
  return state as TaskState;
}

export async function taskList(
  opts: { state?: string; name?: string; tag?: string; limit?: number; json: boolean },
  io: Io,
): Promise<void> {
  const state = parseState(opts.state);
  const tasks = await withSession(({ client }) =>
    listTasks(client, {
      ...(state ? { state } : {}),
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.tag ? { tag: opts.tag } : {}),
      ...(opts.limit ? { limit: opts.limit } : {}),
    }),
  );
  if (opts.json) {
    io.out(JSON.stringify(tasks));
    return;
  }
  if (tasks.length === 0) {
    io.out(pc.dim('no tasks'));
    return;
  }
  io.out(
    table(
      ['task', 'name', 'state', 'tags', 'started'],
      tasks.map((t: TaskSummary) => [t.taskId, t.name, t.state, t.tags.join(', '), t.startedAt]),
    ),
  );
}

export async function taskShow(taskId: string, opts: { json: boolean }, io: Io): Promise<void> {
  const snapshot = await withSession(({ client }) => getTask(client, taskId));
  if (opts.json) {
    io.out(JSON.stringify({ ...snapshot, data: maskStashForDisplay(snapshot.data) }));
    return;
  }
  io.out(
    `${pc.bold('task')}   ${snapshot.taskId}\n${pc.bold('name')}   ${snapshot.name}\n${pc.bold('tags')}   ${snapshot.tags.join(', ') || pc.dim('none')}`,
  );
  io.out(formatFinal(snapshot));
}

function formatLogEntry(entry: TraceEntry, opts: { changes: boolean; logs: boolean }): string {
  const lines = [
    `cycle ${entry.cycle}  ${pc.bold(entry.step)}  attempt ${entry.attempt}  ${entry.durationMs} ms  ${pc.dim(entry.startedAt)}`,
  ];
  if (opts.changes) lines.push(...(entry.changed.length ? entry.changed.map((path) => `  changed ${path}`) : ['  no change']));
  if (opts.logs) lines.push(...entry.logs.map((log) => `  ${log.level}: ${log.message}`));
  return lines.join('\n');
}

type LogOptions = { changes: boolean; logs: boolean; step?: string; follow: boolean; json: boolean };

/**
 * `task log`: every step execution of the task, those that failed included, with the conflicts and
 * what else happened, in one layout whether it is read afterwards or followed live (`--follow`). It
 * reads the event stream; the logs of each execution come from the task's trace.
 */
export async function taskLog(taskId: string, opts: LogOptions, io: Io): Promise<void> {
  await withSession(async ({ client }) => {
    let trace: TraceEntry[] = [];
    const traced = async (cycle: number, step: string): Promise<TraceEntry | undefined> => {
      const find = () => trace.find((entry) => entry.cycle === cycle && entry.step === step);
      if (!find()) trace = (await getTask(client, taskId)).trace;
      return find();
    };
    for await (const event of taskEvents(client, taskId, { follow: opts.follow, until: 'settled' })) {
      if (opts.step && !eventConcerns(event, opts.step)) continue;
      const line = await formatLogEvent(event, opts, traced);
      if (line !== null) io.out(line);
    }
    // Where the task stands (read afterwards, the state is in the events); in attention: why no step matches its data.
    const final = await getTask(client, taskId);
    if (opts.follow && !opts.json) io.out(pc.dim(`task is ${final.state}`));
    if (final.attention) io.out(opts.json ? JSON.stringify({ attention: final.attention }) : formatAttention(final.attention).join('\n'));
  });
}

function eventConcerns(event: TaskEvent, step: string): boolean {
  if (event.type === 'conflict') return event.kept === step || event.dropped === step;
  return 'step' in event && event.step === step;
}

/** One execution (finished or failed) or one other happening, as `task log` shows it; null: not shown. */
async function formatLogEvent(
  event: TaskEvent,
  opts: LogOptions,
  traced: (cycle: number, step: string) => Promise<TraceEntry | undefined>,
): Promise<string | null> {
  if (event.type === 'step-finished') {
    const entry = (await traced(event.cycle, event.step)) ?? {
      step: event.step,
      cycle: event.cycle,
      startedAt: event.at,
      durationMs: event.durationMs,
      attempt: event.attempt,
      changed: event.changed,
      logs: [],
    };
    return opts.json ? JSON.stringify(entry) : formatLogEntry(entry, opts);
  }
  if (event.type === 'step-failed') {
    if (opts.json)
      return JSON.stringify({ step: event.step, cycle: event.cycle, attempt: event.attempts, failed: event.message, at: event.at });
    return `cycle ${event.cycle}  ${pc.bold(event.step)}  ${pc.red(`failed after ${event.attempts} attempt(s): ${event.message}`)}  ${pc.dim(event.at)}`;
  }
  if (event.type === 'conflict') return opts.json ? JSON.stringify({ conflict: event }) : pc.yellow(`conflict  ${describeConflict(event)}`);
  if (opts.json) return null;
  const line = event.type === 'step-started' || event.type === 'step-skipped' ? null : formatEvent(event);
  return line === null ? null : line.trimStart();
}

export async function taskUpdate(
  taskId: string,
  opts: { data?: string; file?: string; workspace?: string; json: boolean },
  io: Io,
): Promise<void> {
  const patch: JsonObject = await readTaskData(opts, 'patch');
  if (!isJsonObject(patch)) throw new UsageError('the update must be a JSON object');
  const stashKey = stashKeysOf(await configOf(opts.workspace));
  const state = await withSession(({ client }) => updateTask(client, taskId, patch, { stashKey }));
  io.out(opts.json ? JSON.stringify({ taskId, state }) : `task ${taskId} updated (${state})`);
}

export async function taskResume(taskId: string, opts: { json: boolean }, io: Io): Promise<void> {
  await withSession(({ client }) => resumeTask(client, taskId));
  io.out(opts.json ? JSON.stringify({ taskId, resumed: true }) : `task ${taskId} resumed`);
}

export async function taskStop(taskId: string, opts: { json: boolean }, io: Io): Promise<void> {
  const how = await withSession(({ client }) => stopTask(client, taskId));
  const note = how === 'terminated' ? ' (it did not take the stop request in time, so its workflow was terminated)' : '';
  io.out(
    opts.json
      ? JSON.stringify({ taskId, state: 'stopped', ...(how === 'terminated' ? { terminated: true } : {}) })
      : `task ${taskId} stopped${note}`,
  );
}

export async function taskClone(taskId: string, opts: { taskQueue?: string; json: boolean }, io: Io): Promise<void> {
  const clone = await withSession(({ client }) => cloneTask(client, taskId, opts.taskQueue ? { taskQueue: opts.taskQueue } : {}));
  io.out(opts.json ? JSON.stringify({ taskId: clone, from: taskId }) : clone);
}

export async function taskReload(taskId: string, opts: { json: boolean }, io: Io): Promise<void> {
  await withSession(({ client }) => reloadTask(client, taskId));
  io.out(opts.json ? JSON.stringify({ taskId, reloaded: true }) : `task ${taskId} reloads its steps`);
}

/** The event stream: from a cursor, optionally following it live; `--json` prints one event per line. */
export async function taskEventsCommand(taskId: string, opts: { after?: number; follow: boolean; json: boolean }, io: Io): Promise<void> {
  await withSession(async ({ client }) => {
    for await (const event of taskEvents(client, taskId, { after: opts.after ?? 0, follow: opts.follow })) {
      io.out(opts.json ? JSON.stringify(event) : formatEventLine(event));
    }
  });
}

function formatEventLine(event: TaskEvent): string {
  const { seq, at, type, ...details } = event;
  const fields = Object.entries(details).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return `${String(seq).padStart(5)}  ${pc.dim(at)}  ${pc.bold(type)}  ${fields.join('  ')}`;
}
