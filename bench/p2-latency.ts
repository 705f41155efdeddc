/**
 * P2 — latency of a 10-step chain: whenflow (bench/workspaces/chain, steps s01..s10) against a
 * hand-written Temporal workflow calling ten trivial activities (bench/baseline), and the same workflow
 * with local activities, on one dev server. Tasks run one at a time, rotating sides, so all see the
 * same server state.
 *
 *   node --import tsx bench/p2-latency.ts [--tasks 30] [--warmup 5]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  eventCounts,
  fmt,
  historyStats,
  machine,
  machineCpu,
  median,
  medianStats,
  p90,
  ratio,
  startBench,
  timeChain,
  writeSection,
  type HistoryStats,
  type Side,
} from './support';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '30' }, warmup: { type: 'string', default: '5' } } });
const TASKS = Number(values.tasks);
const WARMUP = Number(values.warmup);
const STEPS = 10;
const GOAL = 0.5;
const HEADING = '## P2 — latency of a 10-step chain';

const bench = await startBench('p2-latency', 5 * 60_000);
try {
  const sides: Side[] = ['whenflow', 'baseline', 'baseline-local'];
  process.stdout.write(`P2: ${WARMUP} warm-up and ${TASKS} measured ${STEPS}-step tasks per side, rotating\n`);
  const warmupIds: string[] = [];
  for (let i = 0; i < WARMUP; i++) for (const side of sides) warmupIds.push((await timeChain(bench, side, 1)).workflowId);

  const wall: Record<Side, number[]> = { whenflow: [], baseline: [], 'baseline-local': [] };
  const ids: Record<Side, string[]> = { whenflow: [], baseline: [], 'baseline-local': [] };
  const benchCpu: Record<Side, number> = { whenflow: 0, baseline: 0, 'baseline-local': 0 };
  const serverCpu: Record<Side, number> = { whenflow: 0, baseline: 0, 'baseline-local': 0 };
  const machine0 = machineCpu();
  const ours0 = bench.benchCpuMs() + (bench.serverCpuMs() ?? NaN);
  const t0 = performance.now();
  for (let i = 0; i < TASKS; i++) {
    // Rotate which side goes first, so that none always follows another.
    for (const side of [...sides.slice(i % sides.length), ...sides.slice(0, i % sides.length)]) {
      const cpu0 = bench.benchCpuMs();
      const server0 = bench.serverCpuMs() ?? NaN;
      const { ms, workflowId } = await timeChain(bench, side, 1);
      benchCpu[side] += bench.benchCpuMs() - cpu0;
      serverCpu[side] += (bench.serverCpuMs() ?? NaN) - server0;
      wall[side].push(ms);
      ids[side].push(workflowId);
    }
  }

  const machine1 = machineCpu();
  const machineBusy = (machine1.busy - machine0.busy) / (machine1.total - machine0.total);
  const othersBusy =
    machineBusy - (bench.benchCpuMs() + (bench.serverCpuMs() ?? NaN) - ours0) / ((performance.now() - t0) * os.cpus().length);
  const statsOf = async (side: Side) => medianStats(await Promise.all(ids[side].map((id) => historyStats(bench.client, id))));
  const histories: Record<Side, HistoryStats> = {
    whenflow: await statsOf('whenflow'),
    baseline: await statsOf('baseline'),
    'baseline-local': await statsOf('baseline-local'),
  };
  const firstWarmup = warmupIds.length > 0 ? await historyStats(bench.client, warmupIds[0]!) : null;
  const timing = (side: Side) => ({ median: median(wall[side]), p90: p90(wall[side]) });
  const w = timing('whenflow');
  const b = timing('baseline');
  const l = timing('baseline-local');
  const medianRatio = w.median / b.median;
  const met = medianRatio <= GOAL;

  const perTask = (side: Side) => {
    const h = histories[side];
    return {
      cpuBench: benchCpu[side] / TASKS,
      cpuServer: serverCpu[side] / TASKS,
      queue: h.wftQueueMs + h.actQueueMs,
      run: h.wftRunMs + h.actRunMs,
    };
  };
  const wt = perTask('whenflow');
  const bt = perTask('baseline');
  const lt = perTask('baseline-local');
  const hw = histories.whenflow;
  const hb = histories.baseline;
  const hl = histories['baseline-local'];
  const row = (label: string, value: (h: HistoryStats, side: Side) => string) =>
    `| ${label} | ${value(hw, 'whenflow')} | ${value(hb, 'baseline')} | ${value(hl, 'baseline-local')} |`;
  const stepBytes = (h: HistoryStats, side: Side) =>
    side === 'whenflow'
      ? (h.activityEventBytes.runStep ?? 0) + (h.activityEventBytes.loadCatalog ?? 0)
      : sum(
          Object.entries(h.activityEventBytes)
            .filter(([name]) => name !== 'loadCatalog')
            .map(([, bytes]) => bytes),
        );

  const lines = [
    `- Machine: ${machine()}`,
    `- Date: ${new Date().toISOString()}`,
    `- Command: \`node --import tsx bench/p2-latency.ts\` (${TASKS} measured tasks per side after ${WARMUP} warm-up each, run one at a time, rotating sides)`,
    `- Setup: one \`startDevServer()\` dev server (whenflow's settings: transfer queue reads not rate-limited, eager activity dispatch, one partition per task queue; see "Hand-offs" below); the whenflow worker from \`createTaskWorker\` on \`bench/workspaces/chain\` (steps s01..s10, each \`{ chain: { at: N } }\` → \`at = N+1\`, s10 completes the task; \`defaults.local: true\`, so the steps run as local activities, and run ahead: the task's catalog load runs the whole chain, docs/how-a-task-runs.md "Running ahead"); the baseline worker (\`bench/baseline/\`: one workflow calling activities s01..s10 in sequence, each taking and returning \`{ chain: { at } }\`; *baseline* with regular activities, *baseline, local* with local activities) with the same (default) Worker settings. Wall time is \`startTask\`/\`workflow.start\` → \`handle.result()\` as seen by the client.`,
    '',
    '| per task, start → result | whenflow | baseline | baseline, local | whenflow / baseline | whenflow / baseline, local | goal |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    `| median | ${fmt(w.median)} ms | ${fmt(b.median)} ms | ${fmt(l.median)} ms | **${ratio(w.median, b.median)}** | ${ratio(w.median, l.median)} | ≤ ${GOAL}× baseline |`,
    `| p90 | ${fmt(w.p90)} ms | ${fmt(b.p90)} ms | ${fmt(l.p90)} ms | ${ratio(w.p90, b.p90)} | ${ratio(w.p90, l.p90)} | |`,
    `| per step (median / ${STEPS}) | ${fmt(w.median / STEPS)} ms | ${fmt(b.median / STEPS)} ms | ${fmt(l.median / STEPS)} ms | | | |`,
    '',
    `**Goal ${met ? 'met' : 'not met'}**: median ${ratio(w.median, b.median)} of the baseline's against ≤ ${GOAL}× (${ratio(w.median, l.median)} of the baseline with local activities).`,
    '',
    '| history (median task) | whenflow | baseline | baseline, local |',
    '| --- | ---: | ---: | ---: |',
    row('bytes (historyToJSON)', (h) => String(h.bytes)),
    row('bytes per step / per activity', (h) => `**${fmt(h.bytes / STEPS, 0)}**`),
    row('of which `loadCatalog` markers (whenflow: the catalog, and the steps run ahead from the start)', (h, side) =>
      side === 'whenflow' ? String(h.activityEventBytes.loadCatalog ?? 0) : '—',
    ),
    row(
      'events of one step / activity (scheduled, started, completed; or its share of the markers)',
      (h, side) => fmt(stepBytes(h, side) / STEPS, 0) + ' bytes',
    ),
    row('events', (h) => String(h.events)),
    row('workflow tasks', (h) => `${h.workflowTasks} (${fmt(h.workflowTasks / STEPS, 2)} per step)`),
    row('activity tasks / local activities', (h) => `${h.activities} / ${h.localActivities}`),
    row('activity task payload bytes in / out', (h) => `${h.activityInputBytes} / ${h.activityResultBytes}`),
    `| waiting for a worker (task scheduled → started, workflow + activity tasks) | ${fmt(wt.queue, 0)} ms | ${fmt(bt.queue, 0)} ms | ${fmt(lt.queue, 0)} ms |`,
    `| in a worker round trip (task started → completed, workflow + activity tasks) | ${fmt(wt.run, 0)} ms | ${fmt(bt.run, 0)} ms | ${fmt(lt.run, 0)} ms |`,
    row('first → last event', (h) => `${fmt(h.spanMs, 0)} ms`),
    `| CPU per task: this process (workers + client) / dev server | ${fmt(wt.cpuBench, 0)} / ${fmt(wt.cpuServer, 0)} ms | ${fmt(bt.cpuBench, 0)} / ${fmt(bt.cpuServer, 0)} ms | ${fmt(lt.cpuBench, 0)} / ${fmt(lt.cpuServer, 0)} ms |`,
    `| all ${os.cpus().length} cores busy during the measured tasks / of that, other processes on the machine | ${fmt(machineBusy * 100, 0)}% / ${fmt(othersBusy * 100, 0)}% (all sides) | | |`,
    '',
    `Events of a whenflow task: ${eventCounts(hw)}. Of a baseline task: ${eventCounts(hb)}. Of a baseline task with local activities: ${eventCounts(hl)}.`,
    '',
    whereTheTimeGoes(hw, hb, hl, wt, bt, lt, firstWarmup),
  ];
  const file = writeSection(HEADING, lines.join('\n'));
  process.stdout.write(`${HEADING}\n\n${lines.join('\n')}\n\nwritten to ${file}\n`);
} finally {
  await bench.close();
}

function whereTheTimeGoes(
  hw: HistoryStats,
  hb: HistoryStats,
  hl: HistoryStats,
  wt: TaskTimes,
  bt: TaskTimes,
  lt: TaskTimes,
  firstWarmup: HistoryStats | null,
): string {
  const queuePerHandOff = (h: HistoryStats) => (h.wftQueueMs + h.actQueueMs) / Math.max(1, h.workflowTasks + h.activities);
  return [
    `Where the time goes: whenflow's task took ${hw.workflowTasks} workflow task(s), ${hw.activities} activity task(s) and ${hw.localActivities} local activit${hw.localActivities === 1 ? 'y' : 'ies'} (the catalog, and the ${STEPS} steps run ahead from the start);`,
    `the baseline ${hb.workflowTasks} workflow tasks and ${hb.activities} activity tasks, the baseline with local activities ${hl.workflowTasks} workflow task(s) and ${hl.localActivities} local activities.`,
    `Waiting for a worker took ${fmt(wt.queue, 0)} / ${fmt(bt.queue, 0)} / ${fmt(lt.queue, 0)} ms of a task (${fmt(queuePerHandOff(hw))} / ${fmt(queuePerHandOff(hb))} / ${fmt(queuePerHandOff(hl))} ms per hand-off${firstWarmup ? `; the first warm-up task of all: ${fmt(queuePerHandOff(firstWarmup))} ms` : ''}),`,
    `worker round trips ${fmt(wt.run, 0)} / ${fmt(bt.run, 0)} / ${fmt(lt.run, 0)} ms (whenflow / baseline / baseline, local).`,
    `With every step inside one workflow task, whenflow's time is its own work: per step ${fmt(wt.run / STEPS)} ms of worker round trip against ${fmt(lt.run / STEPS)} ms for the hand-written local activity (per step: a step thread round trip with the realm check, the step file's stamp, diffing, choosing the next step in the activity and again in the workflow's cycle, the cycle's bookkeeping).`,
  ].join(' ');
}

interface TaskTimes {
  queue: number;
  run: number;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
