/**
 * Shared machinery of the benchmarks in bench/: one dev server, a whenflow worker and a hand-written
 * baseline worker with the same settings, task runners for both, history analysis, statistics and the
 * BENCHMARKS.md section writer.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { startTask } from '../src/client';
import type { TaskSnapshot } from '../src/model/task';
import { installRuntime } from '../src/temporal/sdk-logging';
import { startDevServer, type TemporalSession } from '../src/temporal/server';
import { createTaskWorker, quietBundlerLogger, workflowBundle } from '../src/worker';
import * as baselineActivities from './baseline/activities';
import type { ChainData } from './baseline/activities';
import type { chainWorkflow, chainWorkflowLocal } from './baseline/workflows';

type History = temporal.api.history.v1.IHistory;

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
export const REPO_DIR = join(BENCH_DIR, '..');
export const CHAIN_WORKSPACE = join(BENCH_DIR, 'workspaces', 'chain');
export const BENCHMARKS_FILE = join(REPO_DIR, 'BENCHMARKS.md');

// ---------------------------------------------------------------------------------------------------
// Server and workers

export interface Bench {
  session: TemporalSession;
  client: Client;
  whenflowQueue: string;
  baselineQueue: string;
  /** CPU time (ms) used so far by the dev server process, or null when it cannot be read. */
  serverCpuMs(): number | null;
  /** CPU time (ms) used so far by this process: both workers and the client. */
  benchCpuMs(): number;
  serverPid: number | null;
  /** Threads each worker brought along (its workflow thread among them), by thread ID. */
  workerThreads: Record<Side, Set<string>>;
  close(): Promise<void>;
}

/**
 * Starts one dev server and, on it, a whenflow worker (createTaskWorker, as whenflow ships it) and a
 * baseline worker; both with the SDK's default Worker settings, each on a task queue of its own.
 * A watchdog ends the process after `limitMs`, stopping what it can first.
 */
export async function startBench(label: string, limitMs: number): Promise<Bench> {
  installRuntime();
  const closers: (() => Promise<void>)[] = [];
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      for (const closer of closers.reverse()) {
        try {
          await closer();
        } catch (error) {
          process.stderr.write(`${label}: while stopping: ${String(error)}\n`);
        }
      }
    })();
    return closing;
  };
  const watchdog = setTimeout(() => {
    process.stderr.write(`${label}: still running after ${Math.round(limitMs / 1000)} s; stopping.\n`);
    const forced = setTimeout(() => process.exit(2), 20_000);
    forced.unref();
    void close().finally(() => process.exit(2));
  }, limitMs);
  watchdog.unref();
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`${label}: ${signal}; stopping.\n`);
    void close().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  closers.push(async () => {
    clearTimeout(watchdog);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });

  try {
    const before = new Set(childPids());
    const session = await startServer(label);
    closers.push(() => session.close());
    const serverPid = serverProcess(childPids().find((pid) => !before.has(pid)) ?? null);

    const run = process.pid;
    const whenflowQueue = `bench-whenflow-${run}-${randomUUID().slice(0, 8)}`;
    const baselineQueue = `bench-baseline-${run}-${randomUUID().slice(0, 8)}`;
    // Bundle both first, so that the threads each worker brings along can be told apart.
    await workflowBundle();
    const baselineBundle = await bundleWorkflowCode({
      workflowsPath: join(BENCH_DIR, 'baseline', 'workflows.ts'),
      logger: quietBundlerLogger,
    });
    const start = async (create: () => Promise<Worker>): Promise<Set<string>> => {
      const before = new Set(threadIds());
      const worker = await create();
      const running = worker.run();
      closers.push(async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      return new Set(threadIds().filter((tid) => !before.has(tid)));
    };
    const whenflowThreads = await start(() =>
      createTaskWorker({
        connection: session.nativeConnection,
        namespace: session.namespace,
        workspace: CHAIN_WORKSPACE,
        taskQueue: whenflowQueue,
      }),
    );
    const baselineThreads = await start(() =>
      Worker.create({
        connection: session.nativeConnection,
        namespace: session.namespace,
        taskQueue: baselineQueue,
        workflowBundle: baselineBundle,
        activities: baselineActivities,
      }),
    );
    return {
      session,
      client: session.client,
      whenflowQueue,
      baselineQueue,
      serverCpuMs: () => (serverPid === null ? null : processCpuMs(serverPid)),
      benchCpuMs: () => {
        const usage = process.cpuUsage();
        return (usage.user + usage.system) / 1000;
      },
      workerThreads: { whenflow: whenflowThreads, baseline: baselineThreads, 'baseline-local': baselineThreads },
      serverPid,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The dev server now and then fails to start (a port it picked was taken meanwhile, e.g. by another
 * server on this machine); try again a couple of times before giving up.
 */
export async function startServer(label: string): Promise<TemporalSession> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServer();
    } catch (error) {
      if (attempt >= 3) throw error;
      process.stderr.write(`${label}: the dev server did not start (attempt ${attempt}); trying again\n`);
    }
  }
}

/**
 * The dev server runs under a watchdog shell (src/temporal/dev-server.ts): its process is the shell's
 * child running the Temporal binary; the shell itself when there is none.
 */
export function serverProcess(shell: number | null): number | null {
  if (shell === null) return null;
  const comm = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  return childPids(shell).find((pid) => !['sh', 'dash', 'bash', 'cat', 'sleep'].includes(comm(pid))) ?? shell;
}

/** Direct children of a process, by default this one (Linux /proc), to find the dev server's process. */
export function childPids(parent: number = process.pid): number[] {
  try {
    const pids: number[] = [];
    for (const tid of readdirSync(`/proc/${parent}/task`)) {
      const text = readFileSync(`/proc/${parent}/task/${tid}/children`, 'utf8').trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    }
    return pids;
  } catch {
    return [];
  }
}

let clockTicks: number | undefined;

export function processCpuMs(pid: number): number | null {
  return statCpuMs(`/proc/${pid}/stat`);
}

function statCpuMs(path: string): number | null {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime); fields[0] here is field 3.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return null;
  }
}

/** Cumulative jiffies of the whole machine (/proc/stat): busy and total, for a utilisation between two samples. */
export function machineCpu(): { busy: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** Time (ms) the threads of this process and of the dev server spent runnable but waiting for a core (/proc/…/schedstat). */
export function runQueueWaitMs(serverPid: number | null): { bench: number; server: number } {
  const sum = (pid: number) => {
    let total = 0;
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try {
          total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
        } catch {
          // The thread ended meanwhile.
        }
      }
    } catch {
      return NaN;
    }
    return total;
  };
  return { bench: sum(process.pid), server: serverPid === null ? NaN : sum(serverPid) };
}

function threadIds(): string[] {
  try {
    return readdirSync(`/proc/${process.pid}/task`);
  } catch {
    return [];
  }
}

export interface ThreadSample {
  tid: string;
  /** Kernel thread name: `node` for JavaScript threads, `tokio-runtime-w` and the like for the SDK core. */
  comm: string;
  cpuMs: number;
}

/** CPU time of each thread of this process so far (Linux /proc; empty elsewhere). */
export function threadCpu(): Map<string, ThreadSample> {
  const threads = new Map<string, ThreadSample>();
  for (const tid of threadIds()) {
    const cpuMs = statCpuMs(`/proc/${process.pid}/task/${tid}/stat`);
    if (cpuMs === null) continue;
    let comm = '?';
    try {
      comm = readFileSync(`/proc/${process.pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      // The thread ended meanwhile.
    }
    threads.set(tid, { tid, comm, cpuMs });
  }
  return threads;
}

/** How busy (0..1 of one core) each thread was between two samples, busiest first. */
export function threadLoad(
  before: Map<string, ThreadSample>,
  after: Map<string, ThreadSample>,
  ms: number,
): (ThreadSample & { load: number })[] {
  return [...after.values()].map((t) => ({ ...t, load: (t.cpuMs - (before.get(t.tid)?.cpuMs ?? 0)) / ms })).sort((a, b) => b.load - a.load);
}

// ---------------------------------------------------------------------------------------------------
// Tasks

/** `baseline-local`: the baseline's workflow with local activities, on the baseline's worker. */
export type Side = 'whenflow' | 'baseline' | 'baseline-local';

export interface Started {
  side: Side;
  workflowId: string;
  /** Resolves when the workflow's result arrived and was checked. */
  done: Promise<void>;
}

/**
 * Starts a chain at `chain.at = from` (1: ten steps, 6: five) and returns at once; `done` settles with
 * the result. whenflow's task is started with whenflow's own `startTask` (search attributes included).
 */
export async function startChain(bench: Bench, side: Side, from: number): Promise<Started> {
  const data: ChainData = { chain: { at: from } };
  if (side === 'whenflow') {
    const handle = await startTask(bench.client, { name: 'chain', data: { chain: { at: from } }, taskQueue: bench.whenflowQueue });
    return { side, workflowId: handle.workflowId, done: handle.result().then((snapshot) => checkWhenflow(snapshot, from)) };
  }
  const handle: WorkflowHandle<typeof chainWorkflow> = await bench.client.workflow.start<typeof chainWorkflow | typeof chainWorkflowLocal>(
    side === 'baseline-local' ? 'chainWorkflowLocal' : 'chainWorkflow',
    {
      taskQueue: bench.baselineQueue,
      workflowId: `baseline-${randomUUID()}`,
      args: [{ data }],
    },
  );
  return { side, workflowId: handle.workflowId, done: handle.result().then((result) => checkBaseline(result)) };
}

/** Runs one chain start → result; returns its wall time in ms. */
export async function timeChain(bench: Bench, side: Side, from: number): Promise<{ ms: number; workflowId: string }> {
  const t0 = performance.now();
  const started = await startChain(bench, side, from);
  await started.done;
  return { ms: performance.now() - t0, workflowId: started.workflowId };
}

function checkWhenflow(snapshot: TaskSnapshot, from: number): void {
  const steps = 11 - from;
  if (snapshot.state !== 'done' || snapshot.trace.length !== steps || (snapshot.data.chain as { at?: number } | undefined)?.at !== 11) {
    throw new Error(
      `whenflow task ended ${snapshot.state} after ${snapshot.trace.length} steps (expected done after ${steps}): ${JSON.stringify(snapshot.error ?? snapshot.data)}`,
    );
  }
}

function checkBaseline(result: ChainData): void {
  if (result.chain.at !== 11) throw new Error(`baseline chain ended at ${result.chain.at}`);
}

// ---------------------------------------------------------------------------------------------------
// Histories

export interface HistoryStats {
  /** Length of historyToJSON(history) in bytes (UTF-8). */
  bytes: number;
  events: number;
  workflowTasks: number;
  activities: number;
  /** Local activities (markers): the catalog's and local steps'. */
  localActivities: number;
  /** Activity input and result payload bytes (decoded `data`), summed over the history. */
  activityInputBytes: number;
  activityResultBytes: number;
  /** Summed over workflow tasks: scheduled → started (waiting for a worker) and started → completed. */
  wftQueueMs: number;
  wftRunMs: number;
  /** Summed over activities: scheduled → started and started → completed. */
  actQueueMs: number;
  actRunMs: number;
  /** First event → last event. */
  spanMs: number;
  byType: Record<string, number>;
  /** Bytes of the activity events (scheduled, started, completed), by activity type. */
  activityEventBytes: Record<string, number>;
}

interface JsonEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
  [attributes: string]: unknown;
}

export async function historyStats(client: Client, workflowId: string): Promise<HistoryStats> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const json = historyToJSON(history);
  const events = (JSON.parse(json) as { events: JsonEvent[] }).events;
  const at = new Map<string, number>();
  const activityTypes = new Map<string, string>();
  const byType: Record<string, number> = {};
  const activityEventBytes: Record<string, number> = {};
  const stats: HistoryStats = {
    bytes: Buffer.byteLength(json),
    events: events.length,
    workflowTasks: 0,
    activities: 0,
    localActivities: 0,
    activityInputBytes: 0,
    activityResultBytes: 0,
    wftQueueMs: 0,
    wftRunMs: 0,
    actQueueMs: 0,
    actRunMs: 0,
    spanMs: 0,
    byType,
    activityEventBytes,
  };
  const payloadBytes = (payloads: unknown) =>
    ((payloads as { payloads?: { data?: string }[] } | undefined)?.payloads ?? []).reduce(
      (sum, p) => sum + Buffer.from(p.data ?? '', 'base64').length,
      0,
    );
  for (const event of events) {
    const type = eventTypeName(event.eventType);
    const time = Date.parse(event.eventTime);
    at.set(String(event.eventId), time);
    byType[type] = (byType[type] ?? 0) + 1;
    const attrs = Object.entries(event).find(([key]) => key.endsWith('EventAttributes'))?.[1] as Record<string, unknown> | undefined;
    const since = (key: string) => time - (at.get(String(attrs?.[key])) ?? time);
    if (type.startsWith('ACTIVITY_TASK_')) {
      if (type === 'ACTIVITY_TASK_SCHEDULED')
        activityTypes.set(String(event.eventId), (attrs?.activityType as { name?: string } | undefined)?.name ?? '?');
      const activity = activityTypes.get(String(type === 'ACTIVITY_TASK_SCHEDULED' ? event.eventId : attrs?.scheduledEventId)) ?? '?';
      // Indented as historyToJSON indents an event (two levels deep in the document).
      const size = Buffer.byteLength(JSON.stringify(event, null, 2).replace(/\n/g, '\n    ')) + 6;
      activityEventBytes[activity] = (activityEventBytes[activity] ?? 0) + size;
    }
    // A local activity's result is a marker event (the catalog's, and local steps'); its details name the activity.
    if (type === 'MARKER_RECORDED' && attrs?.markerName === 'core_local_activity') {
      const size = Buffer.byteLength(JSON.stringify(event, null, 2).replace(/\n/g, '\n    ')) + 6;
      const about = (attrs.details as { data?: { payloads?: { data?: string }[] } } | undefined)?.data?.payloads?.[0]?.data;
      const activity = about
        ? ((JSON.parse(Buffer.from(about, 'base64').toString('utf8')) as { activity_type?: string }).activity_type ?? '?')
        : '?';
      activityEventBytes[activity] = (activityEventBytes[activity] ?? 0) + size;
      stats.localActivities += 1;
    }
    switch (type) {
      case 'WORKFLOW_TASK_STARTED':
        stats.wftQueueMs += since('scheduledEventId');
        break;
      case 'WORKFLOW_TASK_COMPLETED':
        stats.workflowTasks += 1;
        stats.wftRunMs += since('startedEventId');
        break;
      case 'ACTIVITY_TASK_SCHEDULED':
        stats.activities += 1;
        stats.activityInputBytes += payloadBytes(attrs?.input);
        break;
      case 'ACTIVITY_TASK_STARTED':
        stats.actQueueMs += since('scheduledEventId');
        break;
      case 'ACTIVITY_TASK_COMPLETED':
        stats.actRunMs += since('startedEventId');
        stats.activityResultBytes += payloadBytes(attrs?.result);
        break;
    }
  }
  if (events.length > 0) stats.spanMs = Date.parse(events[events.length - 1]!.eventTime) - Date.parse(events[0]!.eventTime);
  return stats;
}

/** `EVENT_TYPE_WORKFLOW_TASK_COMPLETED` or `WorkflowTaskCompleted` → `WORKFLOW_TASK_COMPLETED`. */
function eventTypeName(type: string): string {
  if (type.startsWith('EVENT_TYPE_')) return type.slice('EVENT_TYPE_'.length);
  return type.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Per-field medians of several histories' stats (byType: of the first). */
export function medianStats(all: HistoryStats[]): HistoryStats {
  const pick = (key: Exclude<keyof HistoryStats, 'byType' | 'activityEventBytes'>) => median(all.map((s) => s[key]));
  return {
    bytes: pick('bytes'),
    events: pick('events'),
    workflowTasks: pick('workflowTasks'),
    activities: pick('activities'),
    localActivities: pick('localActivities'),
    activityInputBytes: pick('activityInputBytes'),
    activityResultBytes: pick('activityResultBytes'),
    wftQueueMs: pick('wftQueueMs'),
    wftRunMs: pick('wftRunMs'),
    actQueueMs: pick('actQueueMs'),
    actRunMs: pick('actRunMs'),
    spanMs: pick('spanMs'),
    byType: all[0]?.byType ?? {},
    activityEventBytes: all[0]?.activityEventBytes ?? {},
  };
}

// ---------------------------------------------------------------------------------------------------
// Statistics and formatting

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

export function p90(values: number[]): number {
  return quantile(values, 0.9);
}

/** Linear interpolation between closest ranks. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

export const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
export const ratio = (a: number, b: number) => `${fmt(a / b, 2)}×`;

export function eventCounts(stats: HistoryStats): string {
  return Object.entries(stats.byType)
    .sort(([, a], [, b]) => b - a)
    .map(([type, n]) => `${type.toLowerCase()} ${n}`)
    .join(', ');
}

// ---------------------------------------------------------------------------------------------------
// BENCHMARKS.md

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, Node ${process.version}, ${os.platform()} ${os.arch()}`;
}

const PREAMBLE = `# Benchmarks

whenflow against a hand-written Temporal workflow doing the same work (\`bench/baseline/\`), on the
same Temporal dev server, in the same run, with workers of the same settings. Each section is
rewritten by its own script; run it again to refresh it.
`;

/**
 * Writes `body` under `heading` in BENCHMARKS.md: creates the file when missing and replaces only the
 * lines from that heading up to the next `## ` heading, or appends the section when it is not there.
 */
export function writeSection(heading: string, body: string): string {
  const text = existsSync(BENCHMARKS_FILE) ? readFileSync(BENCHMARKS_FILE, 'utf8') : PREAMBLE;
  const lines = text.split('\n');
  const section = [heading, '', ...body.trimEnd().split('\n'), ''];
  const start = lines.findIndex((line) => line.trimEnd() === heading);
  let next: string[];
  if (start === -1) {
    const kept = [...lines];
    while (kept.length > 0 && kept[kept.length - 1]!.trim() === '') kept.pop();
    next = [...kept, '', ...section];
  } else {
    let end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
    if (end === -1) end = lines.length;
    next = [...lines.slice(0, start), ...section, ...lines.slice(end)];
  }
  writeFileSync(BENCHMARKS_FILE, `${next.join('\n').trimEnd()}\n`);
  // The file is in the formatter's layout (npm test checks it): the new tables are aligned like the rest.
  execFileSync('npx', ['biome', 'format', '--write', BENCHMARKS_FILE], { cwd: REPO_DIR, stdio: 'ignore' });
  return BENCHMARKS_FILE;
}

// ---------------------------------------------------------------------------------------------------
// Runs of a task that continued as new

export interface RunHistory {
  runId: string;
  /** Length of historyToJSON(history) in bytes (UTF-8). */
  bytes: number;
  events: number;
  /** Step executions scheduled in this run (runStep activities). */
  steps: number;
  /** Decoded payload bytes: the run's input (what the previous run carried), the runStep inputs (summed), the run's output (result or carry). */
  inputBytes: number;
  stepInputBytes: number;
  outputBytes: number;
  /** The run that continued this one, if any. */
  nextRunId: string | null;
}

/** Every run of a task, first to last, following continue-as-new. */
export async function runHistories(client: Client, workflowId: string, firstRunId: string): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  const payloadBytes = (payloads: unknown) =>
    ((payloads as { payloads?: { data?: string }[] } | undefined)?.payloads ?? []).reduce(
      (sum, p) => sum + Buffer.from(p.data ?? '', 'base64').length,
      0,
    );
  for (let runId: string | null = firstRunId; runId; runId = runs.at(-1)!.nextRunId) {
    const json = historyToJSON(await fetchRunHistory(client, workflowId, runId));
    const events = (JSON.parse(json) as { events: JsonEvent[] }).events;
    const run: RunHistory = {
      runId,
      bytes: Buffer.byteLength(json),
      events: events.length,
      steps: 0,
      inputBytes: 0,
      stepInputBytes: 0,
      outputBytes: 0,
      nextRunId: null,
    };
    for (const event of events) {
      const attrs = Object.entries(event).find(([key]) => key.endsWith('EventAttributes'))?.[1] as Record<string, unknown> | undefined;
      switch (eventTypeName(event.eventType)) {
        case 'WORKFLOW_EXECUTION_STARTED':
          run.inputBytes = payloadBytes(attrs?.input);
          break;
        case 'ACTIVITY_TASK_SCHEDULED':
          if ((attrs?.activityType as { name?: string } | undefined)?.name === 'runStep') {
            run.steps += 1;
            run.stepInputBytes += payloadBytes(attrs?.input);
          }
          break;
        case 'WORKFLOW_EXECUTION_CONTINUED_AS_NEW':
          run.outputBytes = payloadBytes(attrs?.input);
          run.nextRunId = String(attrs?.newExecutionRunId ?? '') || null;
          break;
        case 'WORKFLOW_EXECUTION_COMPLETED':
          run.outputBytes = payloadBytes(attrs?.result);
          break;
      }
    }
    runs.push(run);
  }
  return runs;
}

/** One run's history. Its pages can pass gRPC's default 4 MB message limit: pass a client whose connection allows more. */
async function fetchRunHistory(client: Client, workflowId: string, runId: string): Promise<History> {
  const events: NonNullable<History['events']> = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      nextPageToken,
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return { events };
}
