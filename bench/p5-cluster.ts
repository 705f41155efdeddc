/**
 * P5 — the P3 workload (200 concurrent tasks × 5 steps of the chain workspace) on a production-shaped
 * Temporal server (PostgreSQL, four service processes, SQL visibility, mutual TLS), against the same
 * workload on the dev server and against the hand-written baseline on the cluster; each with 1, 2 and
 * 3 worker processes. One round per configuration, in one run.
 *
 *   node --import tsx bench/p5-cluster.ts [--tasks 200] [--warmup 20]
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { startTask } from '../src/client';
import { installRuntime } from '../src/temporal/sdk-logging';
import { startDevServer, type TemporalSession } from '../src/temporal/server';
import { spawnManaged, stopAll, type ManagedProcess } from '../test/cluster/support/processes';
import { databaseWrites, standUpCluster, type StoodUp } from '../test/cluster/support/stand-up';
import type { ChainData } from './baseline/activities';
import {
  BENCH_DIR,
  CHAIN_WORKSPACE,
  childPids,
  fmt,
  historyStats,
  machine,
  machineCpu,
  median,
  medianStats,
  processCpuMs,
  REPO_DIR,
  writeSection,
  type HistoryStats,
} from './support';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '200' }, warmup: { type: 'string', default: '20' } } });
const TASKS = Number(values.tasks);
const WARMUP = Number(values.warmup);
const FROM = 6;
const STEPS = 11 - FROM;
const HEADING = '## P5 — the P3 workload on a Temporal cluster';
const WORKER_COUNTS = [1, 2, 3];

type Target = 'dev server' | 'cluster';
type Side = 'whenflow' | 'baseline';

interface Round {
  target: Target;
  side: Side;
  workers: number;
  seconds: number;
  tasksPerSecond: number;
  /** Per step: CPU ms of the Temporal server (all its processes), of the worker processes. */
  serverMsPerStep: number;
  workerMsPerStep: number;
  /** Per step, cluster only: rows written, commits and WAL bytes in PostgreSQL. */
  rowsPerStep: number;
  commitsPerStep: number;
  walBytesPerStep: number;
  machineBusy: number;
  /** Activities of the round's tasks that completed only on a later attempt (an earlier one timed out). */
  retried: number;
  /** Tasks that did not end done (whenflow: in error after its step's attempts; baseline: failed). */
  failed: number;
  ids: string[];
}

const log = (line: string) => process.stdout.write(`${line}\n`);

function startWorkers(side: Side, count: number, taskQueue: string, env: Record<string, string>): ManagedProcess[] {
  return Array.from({ length: count }, (_, i) =>
    side === 'whenflow'
      ? spawnManaged(
          `whenflow worker ${i + 1}`,
          process.execPath,
          [join(REPO_DIR, 'bin', 'whenflow.mjs'), 'worker', '--workspace', CHAIN_WORKSPACE, '--task-queue', taskQueue],
          { env: { ...process.env, NO_COLOR: '1', ...env } },
        )
      : spawnManaged(
          `baseline worker ${i + 1}`,
          process.execPath,
          ['--import', 'tsx', join(BENCH_DIR, 'p5-baseline-worker.ts'), taskQueue],
          { env: { ...process.env, ...env }, cwd: REPO_DIR },
        ),
  );
}

async function startOne(client: Client, side: Side, taskQueue: string): Promise<{ id: string; done: Promise<unknown> }> {
  if (side === 'whenflow') {
    const handle = await startTask(client, { name: 'chain', data: { chain: { at: FROM } }, taskQueue });
    return { id: handle.workflowId, done: handle.result() };
  }
  const data: ChainData = { chain: { at: FROM } };
  const handle = await client.workflow.start('chainWorkflow', { taskQueue, workflowId: `baseline-${randomUUID()}`, args: [{ data }] });
  return { id: handle.workflowId, done: handle.result() };
}

/**
 * Starts `tasks` at once and waits until each has settled: done, or (whenflow) in error — a task in
 * error stays open and would be waited for for ever, so the task queue's tasks in error are looked up
 * in visibility every few seconds. Returns the IDs and how many did not end well.
 */
async function batch(client: Client, side: Side, taskQueue: string, tasks: number): Promise<{ ids: string[]; failed: number }> {
  const started = await Promise.all(Array.from({ length: tasks }, () => startOne(client, side, taskQueue)));
  const failed = new Set<string>();
  const waiting = new Map<string, () => void>();
  const settled = started.map(
    (s) =>
      new Promise<void>((resolve) => {
        waiting.set(s.id, resolve);
        s.done.then(
          () => resolve(),
          () => {
            failed.add(s.id);
            resolve();
          },
        );
      }),
  );
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      if (!watching || side !== 'whenflow') continue;
      try {
        for await (const execution of client.workflow.list({ query: `TaskQueue = "${taskQueue}" AND WhenflowState = "error"` })) {
          if (failed.has(execution.workflowId)) continue;
          failed.add(execution.workflowId);
          waiting.get(execution.workflowId)?.();
        }
      } catch {
        // Visibility may be briefly unavailable; look again next time.
      }
    }
  })();
  await Promise.all(settled);
  watching = false;
  await watcher;
  return { ids: started.map((s) => s.id), failed: failed.size };
}

async function round(options: {
  target: Target;
  side: Side;
  workers: number;
  client: Client;
  env: Record<string, string>;
  serverCpuMs: () => number;
  writes: () => { rows: number; commits: number; walBytes: number } | null;
}): Promise<Round> {
  const taskQueue = `p5-${options.side}-${options.workers}-${randomUUID().slice(0, 8)}`;
  const workers = startWorkers(options.side, options.workers, taskQueue, options.env);
  try {
    // Warm-up: every worker has bundled its workflows and polls; caches are warm.
    await batch(options.client, options.side, taskQueue, WARMUP * options.workers);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const server0 = options.serverCpuMs();
    const worker0 = workers.reduce((sum, w) => sum + w.cpuMs(), 0);
    const writes0 = options.writes();
    const machine0 = machineCpu();
    const t0 = performance.now();
    const { ids, failed } = await batch(options.client, options.side, taskQueue, TASKS);
    const ms = performance.now() - t0;
    const machine1 = machineCpu();
    // PostgreSQL's statistics are flushed by each backend within about a second.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const writes1 = options.writes();
    const steps = TASKS * STEPS;
    const result: Round = {
      target: options.target,
      side: options.side,
      workers: options.workers,
      seconds: ms / 1000,
      tasksPerSecond: TASKS / (ms / 1000),
      serverMsPerStep: (options.serverCpuMs() - server0) / steps,
      workerMsPerStep: (workers.reduce((sum, w) => sum + w.cpuMs(), 0) - worker0) / steps,
      rowsPerStep: writes0 && writes1 ? (writes1.rows - writes0.rows) / steps : NaN,
      commitsPerStep: writes0 && writes1 ? (writes1.commits - writes0.commits) / steps : NaN,
      walBytesPerStep: writes0 && writes1 ? (writes1.walBytes - writes0.walBytes) / steps : NaN,
      machineBusy: (machine1.busy - machine0.busy) / (machine1.total - machine0.total),
      retried: await retriedActivities(options.client, ids),
      failed,
      ids,
    };
    log(
      `  ${options.target}, ${options.side}, ${options.workers} worker(s): ${fmt(result.tasksPerSecond)} tasks/s, server ${fmt(result.serverMsPerStep)} ms CPU/step, workers ${fmt(result.workerMsPerStep)} ms CPU/step` +
        (Number.isFinite(result.rowsPerStep)
          ? `, ${fmt(result.rowsPerStep)} rows / ${fmt(result.commitsPerStep)} commits / ${fmt(result.walBytesPerStep, 0)} WAL bytes per step`
          : '') +
        `, machine ${fmt(result.machineBusy * 100, 0)}% busy, ${result.retried} activities retried after a timeout, ${result.failed} tasks not done`,
    );
    return result;
  } finally {
    for (const worker of workers) await worker.stop('SIGTERM', 20_000);
  }
}

/** Activity attempts after the first, over every task of a round (from their histories). */
async function retriedActivities(client: Client, ids: string[]): Promise<number> {
  let retried = 0;
  for (let i = 0; i < ids.length; i += 10) {
    const histories = await Promise.all(ids.slice(i, i + 10).map((id) => client.workflow.getHandle(id).fetchHistory()));
    for (const history of histories)
      for (const event of history.events ?? []) if ((event.activityTaskStartedEventAttributes?.attempt ?? 1) > 1) retried += 1;
  }
  return retried;
}

async function sample(client: Client, ids: string[]): Promise<HistoryStats> {
  const picked = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / 10)) === 0).slice(0, 10);
  return medianStats(await Promise.all(picked.map((id) => historyStats(client, id))));
}

installRuntime();
const root = mkdtempSync(join(os.tmpdir(), 'whenflow-p5-'));
chmodSync(root, 0o711);
let dev: TemporalSession | null = null;
let stood: StoodUp | null = null;
const stopEverything = async () => {
  await dev?.close().catch(() => undefined);
  await stood?.session.close().catch(() => undefined);
  await stopAll(log);
  rmSync(root, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stopEverything().finally(() => process.exit(130)));

try {
  const began = Date.now();
  log(
    `P5: ${TASKS} concurrent ${STEPS}-step tasks per round; dev server and cluster, whenflow and baseline, ${WORKER_COUNTS.join('/')} worker processes`,
  );
  stood = await standUpCluster(join(root, 'cluster'), log);
  const before = new Set(childPids());
  dev = await startDevServer();
  const devPid = childPids().find((pid) => !before.has(pid)) ?? null;
  const { cluster, postgres } = stood;
  const clusterCpu = () => Object.values(cluster.cpuMs()).reduce((a, b) => a + b, 0);
  const devCpu = () => (devPid === null ? NaN : (processCpuMs(devPid) ?? NaN));

  const rounds: Round[] = [];
  const targets = [
    {
      target: 'cluster' as Target,
      sides: ['whenflow', 'baseline'] as Side[],
      client: stood.session.client,
      env: cluster.clientEnv,
      serverCpuMs: clusterCpu,
      writes: () => databaseWrites(postgres),
    },
    {
      target: 'dev server' as Target,
      sides: ['whenflow'] as Side[],
      client: dev.client,
      env: { TEMPORAL_ADDRESS: dev.address, TEMPORAL_NAMESPACE: dev.namespace },
      serverCpuMs: devCpu,
      writes: () => null,
    },
  ];
  for (const workers of WORKER_COUNTS) {
    for (const { sides, ...on } of targets) for (const side of sides) rounds.push(await round({ ...on, side, workers }));
  }
  const find = (target: Target, side: Side, workers: number) =>
    rounds.find((r) => r.target === target && r.side === side && r.workers === workers)!;
  const clusterW = await sample(stood.session.client, find('cluster', 'whenflow', 1).ids);
  const clusterB = await sample(stood.session.client, find('cluster', 'baseline', 1).ids);

  const row = (r: Round) =>
    `| ${r.target} | ${r.side} | ${r.workers} | **${fmt(r.tasksPerSecond)}** | ${fmt(r.tasksPerSecond * STEPS)} | ${fmt(r.serverMsPerStep)} ms | ${fmt(r.workerMsPerStep)} ms | ${Number.isFinite(r.rowsPerStep) ? `${fmt(r.rowsPerStep)} / ${fmt(r.commitsPerStep)} / ${fmt(r.walBytesPerStep / 1024)} KiB` : '—'} | ${fmt(r.machineBusy * 100, 0)}% | ${r.retried} | ${r.failed} |`;
  const order = (['cluster', 'dev server'] as Target[]).flatMap((target) =>
    (['whenflow', 'baseline'] as Side[]).flatMap((side) => rounds.filter((r) => r.target === target && r.side === side)),
  );
  const w1 = find('cluster', 'whenflow', 1);
  const b1 = find('cluster', 'baseline', 1);
  const d1 = find('dev server', 'whenflow', 1);
  const best = (target: Target, side: Side) =>
    Math.max(...rounds.filter((r) => r.target === target && r.side === side).map((r) => r.tasksPerSecond));
  const clusterRows = median(rounds.filter((r) => r.target === 'cluster' && r.side === 'whenflow').map((r) => r.rowsPerStep));
  const clusterCommits = median(rounds.filter((r) => r.target === 'cluster' && r.side === 'whenflow').map((r) => r.commitsPerStep));
  const clusterServer = median(rounds.filter((r) => r.target === 'cluster' && r.side === 'whenflow').map((r) => r.serverMsPerStep));
  const lines = [
    `- Machine: ${machine()} — shared: other processes were running during the rounds (the "machine busy" column counts every process)`,
    `- Date: ${new Date().toISOString()}`,
    `- Command: \`node --import tsx bench/p5-cluster.ts\` (one round of ${TASKS} tasks started at once per configuration, after a warm-up of ${WARMUP} tasks per worker; ${fmt((Date.now() - began) / 60_000, 0)} minutes including the cluster's start)`,
    `- Cluster: PostgreSQL 15 (fsync on) and the Temporal server v1.29.1 as four processes (history, matching, frontend, worker; 4 history shards), SQL visibility, frontend behind mutual TLS — the set-up of \`npm run test:cluster\`. Dev server: \`startDevServer()\` (Temporal CLI, SQLite in memory). Workers: separate \`whenflow worker\` processes on \`bench/workspaces/chain\` (steps s06..s10), or processes of \`bench/p5-baseline-worker.ts\` (the P3 baseline: activities s06..s10), default settings. Server CPU is the four Temporal processes on the cluster (PostgreSQL's own CPU is not counted; its work shows as rows and WAL) and the one dev server process (SQLite inside it).`,
    '',
    '| server | side | worker processes | tasks/s | steps/s | server CPU per step | worker CPU per step | per step: rows written / transactions (reads included) / WAL | machine busy | activities retried after a timeout | tasks not done |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...order.map(row),
    '',
    `An activity retried after a timeout is one whose first attempt never reported back (no worker died in P5; this benchmark does not establish why the attempt was lost); whenflow's step activities heartbeat and are retried after at most 15 s, the baseline's activities (no heartbeat, 2-minute start-to-close timeout) only after 2 minutes — a few of those decide a baseline round's time. A whenflow task whose step lost all of its 3 attempts ends in \`error\` (counted as not done; \`whenflow task resume\` would run the step again).`,
    '',
    `With one worker process, whenflow on the cluster ran **${fmt(w1.tasksPerSecond / b1.tasksPerSecond, 2)}×** the baseline's throughput on the same cluster, and **${fmt(w1.tasksPerSecond / d1.tasksPerSecond, 2)}×** its own throughput on the dev server.`,
    '',
    '| history on the cluster (median of 10 tasks, 1 worker) | whenflow | baseline |',
    '| --- | ---: | ---: |',
    `| events per task / per step | ${clusterW.events} / ${fmt(clusterW.events / STEPS)} | ${clusterB.events} / ${fmt(clusterB.events / STEPS)} |`,
    `| history bytes per task / per step | ${clusterW.bytes} / ${fmt(clusterW.bytes / STEPS, 0)} | ${clusterB.bytes} / ${fmt(clusterB.bytes / STEPS, 0)} |`,
    `| workflow tasks per task | ${clusterW.workflowTasks} | ${clusterB.workflowTasks} |`,
    '',
    `What two cores allow: every process of this benchmark — PostgreSQL, four Temporal services, up to three worker processes and the client — shares the same two cores (with other work on the machine), so adding worker processes cannot add cores: the best whenflow round reached ${fmt(best('cluster', 'whenflow'))} tasks/s on the cluster and ${fmt(best('dev server', 'whenflow'))} on the dev server, and more workers mostly add contention. On the cluster each whenflow step cost about ${fmt(clusterServer)} ms of Temporal server CPU and ${fmt(clusterRows)} rows written in ${fmt(clusterCommits)} transactions (reads included); these per-step figures, not the throughput, are what carries over to a larger machine (docs/production.md plans capacity with them). A cluster on its own hosts scales the services and workers out; the database then sets the limit.`,
  ];
  const file = writeSection(HEADING, lines.join('\n'));
  log(`\n${HEADING}\n\n${lines.join('\n')}\n\nwritten to ${file}`);
} finally {
  await stopEverything();
}
process.exit(0);
