/**
 * Where a P3 round's time goes, task by task: rounds of whenflow tasks only (the P3 workload), each
 * task's path read from its history (created, its workflow task scheduled, started, completed) and from
 * the worker (when the local activity that loads the catalog and runs the steps ahead began and ended).
 * Prints the median of each phase and the round's timeline: every 250 ms, how many tasks were created,
 * ready in the task queue, held by the worker, in that local activity, and done.
 *
 *   node --import tsx bench/p3-timeline.ts [--tasks 200] [--rounds 3] [--warmup 50] [--partitions N]
 *
 * `--partitions N` starts the dev server with N task queue partitions instead of whenflow's one (the
 * server's default is 4): the comparison in BENCHMARKS.md, "P3 — what paced whenflow's rounds". It prints
 * only; it writes nothing.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Context } from '@temporalio/activity';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { startTask } from '../src/client';
import { installRuntime } from '../src/temporal/sdk-logging';
import { startDevServer } from '../src/temporal/server';
import { stepSlotOptions, whenflowWorkerOptions } from '../src/worker';
import { CHAIN_WORKSPACE, fmt, median } from './support';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '50' },
    partitions: { type: 'string' },
  },
});
const TASKS = Number(values.tasks);
const ROUNDS = Number(values.rounds);
const WARMUP = Number(values.warmup);
const TICK_MS = 250;

interface TaskPath {
  /** ms since the round began. */
  created: number;
  scheduled: number;
  started: number;
  activityBegan: number;
  activityEnded: number;
  completed: number;
  result: number;
}

installRuntime();
const partitions: Record<string, number> =
  values.partitions === undefined
    ? {}
    : {
        'matching.numTaskqueueReadPartitions': Number(values.partitions),
        'matching.numTaskqueueWritePartitions': Number(values.partitions),
      };
const session = await startDevServer({ dynamicConfig: partitions });
const taskQueue = `p3-timeline-${randomUUID().slice(0, 8)}`;
const parts = await whenflowWorkerOptions({ workspace: CHAIN_WORKSPACE });

// The worker's side of each task: when its catalog-loading local activity (with the steps run ahead) ran.
const activitySpans = new Map<string, { began: number; ended: number }>();
const { loadCatalog } = parts.activities;
const activities = {
  ...parts.activities,
  async loadCatalog(...args: Parameters<typeof loadCatalog>) {
    const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
    const began = Date.now();
    try {
      return await loadCatalog(...args);
    } finally {
      activitySpans.set(workflowId, { began, ended: Date.now() });
    }
  },
};
// The worker createTaskWorker makes, with the activities above.
const worker = await Worker.create({
  connection: session.nativeConnection,
  namespace: session.namespace,
  taskQueue,
  ...parts,
  activities,
  ...stepSlotOptions(),
});
const running = worker.run();

async function round(tasks: number): Promise<{ seconds: number; paths: TaskPath[] }> {
  const t0 = Date.now();
  const started = await Promise.all(
    Array.from({ length: tasks }, async () => {
      const handle = await startTask(session.client, { name: 'chain', data: { chain: { at: 6 } }, taskQueue });
      return { workflowId: handle.workflowId, result: handle.result().then(() => Date.now() - t0) };
    }),
  );
  const results = await Promise.all(started.map((s) => s.result));
  const seconds = (Date.now() - t0) / 1000;
  const paths = await Promise.all(
    started.map(async ({ workflowId }, i): Promise<TaskPath> => {
      const history = await session.client.workflow.getHandle(workflowId).fetchHistory();
      const events = (JSON.parse(historyToJSON(history)) as { events: { eventType: string; eventTime: string }[] }).events;
      const at = (type: string) => Date.parse(events.find((e) => e.eventType === type)?.eventTime ?? '') - t0;
      const span = activitySpans.get(workflowId);
      return {
        created: at('EVENT_TYPE_WORKFLOW_EXECUTION_STARTED'),
        scheduled: at('EVENT_TYPE_WORKFLOW_TASK_SCHEDULED'),
        started: at('EVENT_TYPE_WORKFLOW_TASK_STARTED'),
        activityBegan: (span?.began ?? NaN) - t0,
        activityEnded: (span?.ended ?? NaN) - t0,
        completed: at('EVENT_TYPE_WORKFLOW_TASK_COMPLETED'),
        result: results[i]!,
      };
    }),
  );
  return { seconds, paths };
}

function report({ seconds, paths }: { seconds: number; paths: TaskPath[] }): void {
  const phase = (of: (p: TaskPath) => number) => `${fmt(median(paths.map(of)), 0)} ms`;
  process.stdout.write(
    `${paths.length} tasks in ${fmt(seconds, 2)} s = ${fmt(paths.length / seconds)} tasks/s. Medians: ready in the queue ${phase((p) => p.started - p.scheduled)}, ` +
      `in the worker before the local activity ${phase((p) => p.activityBegan - p.started)}, the local activity ${phase((p) => p.activityEnded - p.activityBegan)}, ` +
      `after it ${phase((p) => p.completed - p.activityEnded)}, completed → result at the client ${phase((p) => p.result - p.completed)}\n`,
  );
  const count = (t: number, from: (p: TaskPath) => number, until: (p: TaskPath) => number) =>
    paths.filter((p) => from(p) <= t && until(p) > t).length;
  const last = Math.max(...paths.map((p) => p.result));
  const ticks: string[] = [];
  for (let t = 0; t <= last; t += TICK_MS) {
    ticks.push(
      `${String(t).padStart(6)} ms  created ${String(paths.filter((p) => p.created <= t).length).padStart(4)}` +
        `  ready ${String(
          count(
            t,
            (p) => p.scheduled,
            (p) => p.started,
          ),
        ).padStart(4)}` +
        `  in the worker ${String(
          count(
            t,
            (p) => p.started,
            (p) => p.completed,
          ),
        ).padStart(4)}` +
        `  in the local activity ${String(
          count(
            t,
            (p) => p.activityBegan,
            (p) => p.activityEnded,
          ),
        ).padStart(4)}` +
        `  done ${String(paths.filter((p) => p.result <= t).length).padStart(4)}`,
    );
  }
  process.stdout.write(`${ticks.join('\n')}\n\n`);
}

try {
  process.stdout.write(
    `P3 timeline: ${TASKS} whenflow tasks per round, ${ROUNDS} round(s) after a warm-up of ${WARMUP}, task queue partitions: ${values.partitions ?? "1 (whenflow's dev server)"}\n\n`,
  );
  await round(WARMUP);
  for (let i = 0; i < ROUNDS; i++) report(await round(TASKS));
} finally {
  worker.shutdown();
  await running;
  await session.close();
}
