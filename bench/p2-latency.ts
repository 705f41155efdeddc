/**
 * P2 — latency of a 10-step chain: whenflow (bench/workspaces/chain, steps s01..s10) against a
 * hand-written Temporal workflow calling ten trivial activities (bench/baseline), on one dev server.
 * Tasks run one at a time, alternating sides, so both see the same server state.
 *
 *   node --import tsx bench/p2-latency.ts [--tasks 30] [--warmup 5]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { eventCounts, fmt, historyStats, machine, machineCpu, median, medianStats, p90, ratio, startBench, timeChain, writeSection, type HistoryStats, type Side } from './support';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '30' }, warmup: { type: 'string', default: '5' } } });
const TASKS = Number(values.tasks);
const WARMUP = Number(values.warmup);
const STEPS = 10;
const GOAL = 1.2;
const HEADING = '## P2 — latency of a 10-step chain';

const bench = await startBench('p2-latency', 5 * 60_000);
try {
  const sides: Side[] = ['whenflow', 'baseline'];
  process.stdout.write(`P2: ${WARMUP} warm-up and ${TASKS} measured ${STEPS}-step tasks per side, alternating\n`);
  const warmupIds: string[] = [];
  for (let i = 0; i < WARMUP; i++) for (const side of sides) warmupIds.push((await timeChain(bench, side, 1)).workflowId);

  const wall: Record<Side, number[]> = { whenflow: [], baseline: [] };
  const ids: Record<Side, string[]> = { whenflow: [], baseline: [] };
  const benchCpu: Record<Side, number> = { whenflow: 0, baseline: 0 };
  const serverCpu: Record<Side, number> = { whenflow: 0, baseline: 0 };
  const machine0 = machineCpu();
  const ours0 = bench.benchCpuMs() + (bench.serverCpuMs() ?? NaN);
  const t0 = performance.now();
  for (let i = 0; i < TASKS; i++) {
    // Alternate which side goes first, so neither always follows the other.
    for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
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
  const othersBusy = machineBusy - (bench.benchCpuMs() + (bench.serverCpuMs() ?? NaN) - ours0) / ((performance.now() - t0) * os.cpus().length);
  const histories: Record<Side, HistoryStats> = {
    whenflow: medianStats(await Promise.all(ids.whenflow.map((id) => historyStats(bench.client, id)))),
    baseline: medianStats(await Promise.all(ids.baseline.map((id) => historyStats(bench.client, id)))),
  };
  const firstWarmup = warmupIds.length > 0 ? await historyStats(bench.client, warmupIds[0]!) : null;
  const w = { median: median(wall.whenflow), p90: p90(wall.whenflow) };
  const b = { median: median(wall.baseline), p90: p90(wall.baseline) };
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
  const hw = histories.whenflow;
  const hb = histories.baseline;

  const lines = [
    `- Machine: ${machine()}`,
    `- Date: ${new Date().toISOString()}`,
    `- Command: \`node --import tsx bench/p2-latency.ts\` (${TASKS} measured tasks per side after ${WARMUP} warm-up each, run one at a time, alternating sides)`,
    `- Setup: one \`startDevServer()\` dev server; the whenflow worker from \`createTaskWorker\` on \`bench/workspaces/chain\` (steps s01..s10, each \`{ chain: { at: N } }\` → \`at = N+1\`, s10 completes the task); the baseline worker (\`bench/baseline/\`: one workflow calling activities s01..s10 in sequence, each taking and returning \`{ chain: { at } }\`) with the same (default) Worker settings. Wall time is \`startTask\`/\`workflow.start\` → \`handle.result()\` as seen by the client.`,
    '',
    '| per task, start → result | whenflow | baseline | whenflow / baseline | goal |',
    '| --- | ---: | ---: | ---: | --- |',
    `| median | ${fmt(w.median)} ms | ${fmt(b.median)} ms | **${ratio(w.median, b.median)}** | ≤ ${GOAL}× |`,
    `| p90 | ${fmt(w.p90)} ms | ${fmt(b.p90)} ms | ${ratio(w.p90, b.p90)} | |`,
    `| per step (median / ${STEPS}) | ${fmt(w.median / STEPS)} ms | ${fmt(b.median / STEPS)} ms | | |`,
    '',
    `**Goal ${met ? 'met' : 'not met'}**: median ${ratio(w.median, b.median)} against ≤ ${GOAL}×.`,
    '',
    '| history (median task) | whenflow | baseline |',
    '| --- | ---: | ---: |',
    `| bytes (historyToJSON) | ${hw.bytes} | ${hb.bytes} |`,
    `| bytes per step / per activity | **${fmt(hw.bytes / STEPS, 0)}** per step | **${fmt(hb.bytes / STEPS, 0)}** per activity |`,
    `| of which the catalog (\`loadCatalog\` local activity marker, once per task) | ${hw.activityEventBytes.loadCatalog ?? 0} | — |`,
    `| step activity events per step / per activity | ${fmt((hw.activityEventBytes.runStep ?? 0) / STEPS, 0)} | ${fmt(sum(Object.values(hb.activityEventBytes)) / STEPS, 0)} |`,
    `| events | ${hw.events} | ${hb.events} |`,
    `| workflow tasks | ${hw.workflowTasks} (${fmt(hw.workflowTasks / STEPS, 2)} per step) | ${hb.workflowTasks} (${fmt(hb.workflowTasks / STEPS, 2)} per activity) |`,
    `| activities | ${hw.activities} (${STEPS} steps; the catalog is a local activity) | ${hb.activities} |`,
    `| activity payload bytes in / out | ${hw.activityInputBytes} / ${hw.activityResultBytes} | ${hb.activityInputBytes} / ${hb.activityResultBytes} |`,
    `| waiting for a worker (task scheduled → started, workflow + activity tasks) | ${fmt(wt.queue, 0)} ms | ${fmt(bt.queue, 0)} ms |`,
    `| in a worker round trip (task started → completed, workflow + activity tasks) | ${fmt(wt.run, 0)} ms | ${fmt(bt.run, 0)} ms |`,
    `| first → last event | ${fmt(hw.spanMs, 0)} ms | ${fmt(hb.spanMs, 0)} ms |`,
    `| CPU per task: this process (workers + client) / dev server | ${fmt(wt.cpuBench, 0)} / ${fmt(wt.cpuServer, 0)} ms | ${fmt(bt.cpuBench, 0)} / ${fmt(bt.cpuServer, 0)} ms |`,
    `| all ${os.cpus().length} cores busy during the measured tasks / of that, other processes on the machine | ${fmt(machineBusy * 100, 0)}% / ${fmt(othersBusy * 100, 0)}% (both sides) | |`,
    '',
    `Events of a whenflow task: ${eventCounts(hw)}. Of a baseline task: ${eventCounts(hb)}.`,
    '',
    whereTheTimeGoes(met, hw, hb, wt, bt, firstWarmup),
  ];
  const file = writeSection(HEADING, lines.join('\n'));
  process.stdout.write(`${HEADING}\n\n${lines.join('\n')}\n\nwritten to ${file}\n`);
} finally {
  await bench.close();
}

function whereTheTimeGoes(met: boolean, hw: HistoryStats, hb: HistoryStats, wt: { queue: number; run: number }, bt: { queue: number; run: number }, firstWarmup: HistoryStats | null): string {
  const extraTasks = hw.workflowTasks - hb.workflowTasks;
  const extraActivities = hw.activities - hb.activities;
  const wftRun = (h: HistoryStats) => h.wftRunMs / Math.max(1, h.workflowTasks);
  const actRun = (h: HistoryStats) => h.actRunMs / Math.max(1, h.activities);
  const queuePerHandOff = (h: HistoryStats) => (h.wftQueueMs + h.actQueueMs) / Math.max(1, h.workflowTasks + h.activities);
  const intro = met ? 'Where the time goes (goal met; for reference):' : 'Where the time goes:';
  return [
    `${intro} whenflow needs ${hw.workflowTasks} workflow tasks and ${hw.activities} activities for ${STEPS} steps, the baseline ${hb.workflowTasks} and ${hb.activities}`,
    `(${extraTasks >= 0 ? '+' : ''}${extraTasks} workflow task${Math.abs(extraTasks) === 1 ? '' : 's'} and ${extraActivities >= 0 ? '+' : ''}${extraActivities} activit${Math.abs(extraActivities) === 1 ? 'y' : 'ies'}; the catalog is read by a local activity inside the first workflow task).`,
    `A workflow task round trip takes ${fmt(wftRun(hw))} ms in whenflow against ${fmt(wftRun(hb))} ms in the baseline (recognize/merge/trace bookkeeping and larger payloads), an activity round trip ${fmt(actRun(hw))} ms against ${fmt(actRun(hb))} ms (reading the step file, running it in a fresh data proxy, diffing);`,
    `waiting for a worker to pick a task up costs about ${fmt(queuePerHandOff(hw))} ms per hand-off in whenflow and ${fmt(queuePerHandOff(hb))} ms in the baseline, ${fmt(wt.queue, 0)} ms of whenflow's task and ${fmt(bt.queue, 0)} ms of the baseline's.`,
    `That wait is the same for both and dominates both; counting only the worker round trips, whenflow's task takes ${fmt(wt.run, 0)} ms against ${fmt(bt.run, 0)} ms (${ratio(wt.run, bt.run)}).`,
    queuePerHandOff(hb) > 30 && queuePerHandOff(hb) < 50
      ? `About 40 ms per hand-off is Linux's minimum delayed-ACK time, which suggests a TCP delayed-ACK/Nagle interaction between the workers and the dev server rather than work being done (not verified${firstWarmup ? `; the very first warm-up task waited ${fmt(queuePerHandOff(firstWarmup))} ms per hand-off` : ''}). Where hand-offs are fast, the ratio moves towards the round-trip ratio.`
      : '',
  ]
    .filter(Boolean)
    .join(' ');
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
