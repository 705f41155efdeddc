/**
 * Where a hand-off between the Temporal dev server and a worker waits: the hand-written baseline's
 * 10-activity chain (bench/baseline) on dev servers of different settings, one server after the other
 * and one chain after the other (back to back: the server's read limiter lets a burst through after a
 * pause, so chains that take turns between servers would not show it), and,
 * from each history, how long workflow tasks and activity tasks waited for a worker (scheduled →
 * started) and how long the worker held them (started → completed).
 *
 *   node --import tsx bench/handoffs.ts [--tasks 10] [--warmup 3]
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { installRuntime } from '../src/temporal/sdk-logging';
import { startDevServer } from '../src/temporal/server';
import * as baselineActivities from './baseline/activities';
import type { chainWorkflow } from './baseline/workflows';
import { BENCH_DIR, fmt, median } from './support';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '10' }, warmup: { type: 'string', default: '3' } } });
const TASKS = Number(values.tasks);
const WARMUP = Number(values.warmup);

interface Setting {
  label: string;
  dynamicConfig: Record<string, string | number | boolean>;
}

// The values of the Temporal CLI's dev server before whenflow set its own (src/temporal/dev-server.ts).
const CLI_DEFAULTS = {
  'history.transferProcessorMaxPollRPS': 20,
  'history.transferProcessorMaxPollHostRPS': 0,
  'system.enableActivityEagerExecution': false,
  'matching.numTaskqueueReadPartitions': 4,
  'matching.numTaskqueueWritePartitions': 4,
};
const SETTINGS: Setting[] = [
  { label: 'the Temporal CLI defaults (4 task queue partitions, transfer queue read ≤ 20 times/s)', dynamicConfig: CLI_DEFAULTS },
  {
    label: '… with one task queue partition',
    dynamicConfig: { ...CLI_DEFAULTS, 'matching.numTaskqueueReadPartitions': 1, 'matching.numTaskqueueWritePartitions': 1 },
  },
  {
    label: '… with transfer queue reads per shard not rate-limited',
    dynamicConfig: { ...CLI_DEFAULTS, 'history.transferProcessorMaxPollRPS': 10_000 },
  },
  { label: "whenflow's dev server (reads not rate-limited, eager activity dispatch, one partition)", dynamicConfig: {} },
];

interface Waits {
  /** Per chain, summed: the first workflow task, later workflow tasks, activity tasks (scheduled → started). */
  firstWft: number;
  laterWft: number[];
  activity: number[];
  /** Started → completed, per task. */
  wftRun: number[];
  activityRun: number[];
  spanMs: number;
}

interface JsonEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
  [attributes: string]: unknown;
}

function waitsOf(json: string): Waits {
  const events = (JSON.parse(json) as { events: JsonEvent[] }).events;
  const at = new Map<string, number>();
  const waits: Waits = { firstWft: NaN, laterWft: [], activity: [], wftRun: [], activityRun: [], spanMs: 0 };
  for (const event of events) {
    const time = Date.parse(event.eventTime);
    at.set(String(event.eventId), time);
    const attrs = Object.entries(event).find(([key]) => key.endsWith('EventAttributes'))?.[1] as Record<string, unknown> | undefined;
    const since = (key: string) => time - (at.get(String(attrs?.[key])) ?? time);
    const type = event.eventType
      .replace(/^EVENT_TYPE_/, '')
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toUpperCase();
    if (type === 'WORKFLOW_TASK_STARTED') {
      if (Number.isNaN(waits.firstWft)) waits.firstWft = since('scheduledEventId');
      else waits.laterWft.push(since('scheduledEventId'));
    }
    if (type === 'WORKFLOW_TASK_COMPLETED') waits.wftRun.push(since('startedEventId'));
    if (type === 'ACTIVITY_TASK_STARTED') waits.activity.push(since('scheduledEventId'));
    if (type === 'ACTIVITY_TASK_COMPLETED') waits.activityRun.push(since('startedEventId'));
  }
  waits.spanMs = Date.parse(events.at(-1)!.eventTime) - Date.parse(events[0]!.eventTime);
  return waits;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

installRuntime();
const bundle = await bundleWorkflowCode({
  workflowsPath: join(BENCH_DIR, 'baseline', 'workflows.ts'),
  logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
});
const rows: string[] = [];
for (const setting of SETTINGS) {
  const session = await startDevServer({ dynamicConfig: setting.dynamicConfig });
  try {
    const taskQueue = `handoffs-${randomUUID().slice(0, 8)}`;
    const worker = await Worker.create({
      connection: session.nativeConnection,
      namespace: session.namespace,
      taskQueue,
      workflowBundle: bundle,
      activities: baselineActivities,
    });
    const running = worker.run();
    const all: Waits[] = [];
    const wall: number[] = [];
    try {
      for (let i = 0; i < WARMUP + TASKS; i++) {
        const t0 = performance.now();
        const handle = await session.client.workflow.start<typeof chainWorkflow>('chainWorkflow', {
          taskQueue,
          workflowId: `handoffs-${randomUUID()}`,
          args: [{ data: { chain: { at: 1 } } }],
        });
        await handle.result();
        if (i < WARMUP) continue;
        wall.push(performance.now() - t0);
        all.push(waitsOf(historyToJSON(await handle.fetchHistory())));
      }
    } finally {
      worker.shutdown();
      await running;
    }
    const flat = (pick: (w: Waits) => number[]) => median(all.flatMap(pick));
    // First → last event, less the waits and worker round trips the events account for, per hand-off.
    const unaccounted = median(
      all.map(
        (w) =>
          (w.spanMs - w.firstWft - sum(w.laterWft) - sum(w.activity) - sum(w.wftRun) - sum(w.activityRun)) /
          (w.wftRun.length + w.activityRun.length),
      ),
    );
    const row = `| ${setting.label} | ${fmt(median(wall))} ms | ${fmt(median(all.map((w) => w.firstWft)))} ms | ${fmt(flat((w) => w.laterWft))} ms | ${fmt(flat((w) => w.activity))} ms | ${fmt(flat((w) => w.wftRun))} / ${fmt(flat((w) => w.activityRun))} ms | ${fmt(unaccounted)} ms |`;
    process.stdout.write(`${row}\n`);
    rows.push(row);
  } finally {
    await session.close();
  }
}
process.stdout.write(
  [
    '',
    `Baseline 10-activity chain, ${TASKS} chains per setting after ${WARMUP} warm-up, one at a time; medians per task (hand-off):`,
    '',
    '| dev server | chain, start → result | first workflow task waits | later workflow tasks wait | activity tasks wait | worker holds a workflow / activity task | between events, unaccounted, per hand-off |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n'),
);
