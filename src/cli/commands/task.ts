import pc from 'picocolors';
import { checkSequence, cloneTask, getTask, listTasks, reloadTask, resumeTask, startTask, stopTask, taskEvents, updateTask, watchTask, type TaskSummary } from '../../client';
import type { TaskEvent } from '../../model/events';
import { isJsonObject, type JsonObject } from '../../model/json';
import { TASK_STATES, type TaskSnapshot, type TaskState, type TraceEntry } from '../../model/task';
import { maskStashForDisplay } from '../../runtime/stash';
import { defaultWorkspaceConfig, loadWorkspaceConfig, workspaceTaskSettings, type WorkspaceConfig } from '../../workspace/config';
import { DEFAULT_TASK_QUEUE } from '../../worker';
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
  if (problems.length > 0) throw new UsageError(`whenflow.yaml of ${workspace}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
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
  checkSequence(sequence, ws.catalog.steps.map((step) => step.name));
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

export async function taskNew(name: string, opts: TaskNewOptions, io: Io): Promise<void> {
  const data = await readTaskData({ ...(opts.file !== undefined ? { data: opts.file } : {}), ...(opts.data !== undefined ? { json: opts.data } : {}) });
  if (opts.thenCycle && !opts.sequence) throw new UsageError('--then-cycle needs --sequence');
  await checkSequenceAgainst(opts.workspace, opts.sequence);
  // The workspace's stash key and `defaults` task limits apply to the task.
  const settings = {
    ...workspaceTaskSettings(await configOf(opts.workspace)),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.onConflict ? { onConflict: opts.onConflict } : {}),
  };
  const sequence = opts.sequence ? { sequence: opts.sequence, thenCycle: opts.thenCycle } : {};
  await withSession(async ({ client }) => {
    const handle = await startTask(client, { ...settings, name, tags: opts.tag ?? [], data, taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE, ...sequence });
    if (!opts.wait) {
      io.out(opts.json ? JSON.stringify({ taskId: handle.workflowId }) : handle.workflowId);
      return;
    }
    io.err(`task ${handle.workflowId} started`);
    const final = await watchTask(client, handle.workflowId, showProgress(io.err));
    io.out(opts.json ? JSON.stringify(toRunJson(final)) : formatFinal(final));
  });
}

function parseState(state: string | undefined): TaskState | undefined {
  if (state === undefined) return undefined;
  if (!(TASK_STATES as readonly string[]).includes(state)) throw new UsageError(`--state must be one of ${TASK_STATES.join(', ')}; got "${state}"`);
  return state as TaskState;
}

export async function taskList(opts: { state?: string; name?: string; tag?: string; limit?: number; json: boolean }, io: Io): Promise<void> {
  const state = parseState(opts.state);
  const tasks = await withSession(({ client }) =>
    listTasks(client, { ...(state ? { state } : {}), ...(opts.name ? { name: opts.name } : {}), ...(opts.tag ? { tag: opts.tag } : {}), ...(opts.limit ? { limit: opts.limit } : {}) }),
  );
  if (opts.json) {
    io.out(JSON.stringify(tasks));
    return;
  }
  if (tasks.length === 0) {
    io.out(pc.dim('no tasks'));
    return;
  }
  io.out(table(['task', 'name', 'state', 'tags', 'started'], tasks.map((t: TaskSummary) => [t.taskId, t.name, t.state, t.tags.join(', '), t.startedAt])));
}

export async function taskShow(taskId: string, opts: { json: boolean }, io: Io): Promise<void> {
  const snapshot = await withSession(({ client }) => getTask(client, taskId));
  if (opts.json) {
    io.out(JSON.stringify({ ...snapshot, data: maskStashForDisplay(snapshot.data) }));
    return;
  }
  io.out(`${pc.bold('task')}   ${snapshot.taskId}\n${pc.bold('name')}   ${snapshot.name}\n${pc.bold('tags')}   ${snapshot.tags.join(', ') || pc.dim('none')}`);
  io.out(formatFinal(snapshot));
}

function selectTrace(trace: TraceEntry[], opts: { step?: string }): TraceEntry[] {
  return opts.step ? trace.filter((entry) => entry.step === opts.step) : trace;
}

function formatLogEntry(entry: TraceEntry, opts: { changes: boolean; logs: boolean }): string {
  const lines = [`cycle ${entry.cycle}  ${pc.bold(entry.step)}  attempt ${entry.attempt}  ${entry.durationMs} ms  ${pc.dim(entry.startedAt)}`];
  if (opts.changes) lines.push(...(entry.changed.length ? entry.changed.map((path) => `  changed ${path}`) : ['  no change']));
  if (opts.logs) lines.push(...entry.logs.map((log) => `  ${log.level}: ${log.message}`));
  return lines.join('\n');
}

export async function taskLog(taskId: string, opts: { changes: boolean; logs: boolean; step?: string; follow: boolean; json: boolean }, io: Io): Promise<void> {
  const show = (entry: TraceEntry) => {
    if (opts.step && entry.step !== opts.step) return;
    io.out(opts.json ? JSON.stringify(entry) : formatLogEntry(entry, opts));
  };
  await withSession(async ({ client }) => {
    if (opts.follow) {
      // Streams the task's events as they happen until it is terminal, in attention or in error.
      const final = await watchTask(client, taskId, (event) => {
        if (opts.step && 'step' in event && event.step !== opts.step) return;
        if (opts.json) io.out(JSON.stringify(event));
        else showProgress(io.out)(event);
      });
      if (!opts.json) io.out(pc.dim(`task is ${final.state}`));
      if (!opts.json && final.attention) io.out(formatAttention(final.attention).join('\n'));
      return;
    }
    const snapshot = await getTask(client, taskId);
    selectTrace(snapshot.trace, opts).forEach(show);
    // A step whose changes were not kept (or were replaced by an update) ran all the same: say so.
    for (const conflict of snapshot.conflicts) {
      if (opts.step && conflict.dropped !== opts.step && conflict.kept !== opts.step) continue;
      io.out(opts.json ? JSON.stringify({ conflict }) : pc.yellow(`conflict  ${describeConflict(conflict)}`));
    }
    // A task in attention: why no step matches its data.
    if (snapshot.attention) io.out(opts.json ? JSON.stringify({ attention: snapshot.attention }) : formatAttention(snapshot.attention).join('\n'));
  });
}

export async function taskUpdate(taskId: string, opts: { data?: string; file?: string; workspace?: string; json: boolean }, io: Io): Promise<void> {
  const patch: JsonObject = await readTaskData({ ...(opts.file !== undefined ? { data: opts.file } : {}), ...(opts.data !== undefined ? { json: opts.data } : {}) });
  if (!isJsonObject(patch)) throw new UsageError('the update must be a JSON object');
  const { stashKey } = await configOf(opts.workspace);
  const state = await withSession(({ client }) => updateTask(client, taskId, patch, { stashKey }));
  io.out(opts.json ? JSON.stringify({ taskId, state }) : `task ${taskId} updated (${state})`);
}

export async function taskResume(taskId: string, opts: { json: boolean }, io: Io): Promise<void> {
  await withSession(({ client }) => resumeTask(client, taskId));
  io.out(opts.json ? JSON.stringify({ taskId, resumed: true }) : `task ${taskId} resumed`);
}

export async function taskStop(taskId: string, opts: { json: boolean }, io: Io): Promise<void> {
  await withSession(({ client }) => stopTask(client, taskId));
  io.out(opts.json ? JSON.stringify({ taskId, state: 'stopped' }) : `task ${taskId} stopped`);
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
