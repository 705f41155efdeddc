/**
 * P3 — throughput: 200 concurrent tasks of 5 steps each on one worker, whenflow (the chain workspace
 * started at `chain.at = 6`: steps s06..s10) against the hand-written baseline (activities s06..s10),
 * on one dev server. Rounds alternate sides (whenflow, baseline, baseline, whenflow, …).
 *
 *   node --import tsx bench/p3-throughput.ts [--tasks 200] [--rounds 3] [--warmup 50]
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
  ratio,
  runQueueWaitMs,
  startBench,
  startChain,
  threadCpu,
  threadLoad,
  writeSection,
  type Bench,
  type HistoryStats,
  type Side,
} from './support';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '50' },
  },
});
const TASKS = Number(values.tasks);
const ROUNDS = Number(values.rounds);
const WARMUP = Number(values.warmup);
const FROM = 6;
const STEPS = 11 - FROM;
const GOAL = 1.2;
const CORES = os.cpus().length;
const HEADING = '## P3 — throughput, 200 tasks × 5 steps';

interface Round {
  side: Side;
  seconds: number;
  /** Time until the last start call returned. */
  startSeconds: number;
  tasksPerSecond: number;
  /** CPU per task (ms): the dev server, this whole process, its main thread (activities, client), the worker's workflow thread. */
  serverMs: number;
  benchMs: number;
  mainMs: number;
  workflowMs: number;
  /** Share of all cores busy, whatever ran on them; and the part of it not from this benchmark's two processes. */
  machineBusy: number;
  othersBusy: number;
  /** Runnable but waiting for a core, per task (ms): this process, the dev server. */
  waitBench: number;
  waitServer: number;
  ids: string[];
}

async function round(bench: Bench, side: Side, tasks: number): Promise<Round> {
  const cpu0 = bench.benchCpuMs();
  const server0 = bench.serverCpuMs() ?? NaN;
  const threads0 = threadCpu();
  const machine0 = machineCpu();
  const wait0 = runQueueWaitMs(bench.serverPid);
  const t0 = performance.now();
  const started = await Promise.all(Array.from({ length: tasks }, () => startChain(bench, side, FROM)));
  const startSeconds = (performance.now() - t0) / 1000;
  await Promise.all(started.map((s) => s.done));
  const ms = performance.now() - t0;
  const machine1 = machineCpu();
  const wait1 = runQueueWaitMs(bench.serverPid);
  const load = threadLoad(threads0, threadCpu(), ms);
  const benchMs = bench.benchCpuMs() - cpu0;
  const serverMs = (bench.serverCpuMs() ?? NaN) - server0;
  const machineBusy = (machine1.busy - machine0.busy) / (machine1.total - machine0.total);
  // The worker's JavaScript thread (kernel name `node`) runs the workflow code; the SDK core's threads are named otherwise.
  const mine = bench.workerThreads[side];
  const workflowThread = load.find((t) => mine.has(t.tid) && t.comm === 'node');
  const mainThread = load.find((t) => t.tid === String(process.pid));
  return {
    side,
    seconds: ms / 1000,
    startSeconds,
    tasksPerSecond: tasks / (ms / 1000),
    serverMs: serverMs / tasks,
    benchMs: benchMs / tasks,
    mainMs: ((mainThread?.load ?? NaN) * ms) / tasks,
    workflowMs: ((workflowThread?.load ?? NaN) * ms) / tasks,
    machineBusy,
    othersBusy: machineBusy - (benchMs + serverMs) / (ms * CORES),
    waitBench: (wait1.bench - wait0.bench) / tasks,
    waitServer: (wait1.server - wait0.server) / tasks,
    ids: started.map((s) => s.workflowId),
  };
}

const bench = await startBench('p3-throughput', 6 * 60_000);
try {
  process.stdout.write(`P3: ${TASKS} concurrent ${STEPS}-step tasks, ${ROUNDS} round(s) per side after a warm-up of ${WARMUP}\n`);
  await round(bench, 'whenflow', WARMUP);
  await round(bench, 'baseline', WARMUP);

  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // ABBA order: drift (the server's database grows, other load on the machine) falls on both sides alike.
    const order: Side[] = i % 2 === 0 ? ['whenflow', 'baseline'] : ['baseline', 'whenflow'];
    for (const side of order) {
      const r = await round(bench, side, TASKS);
      process.stdout.write(
        `  ${side}: ${TASKS} tasks in ${fmt(r.seconds, 2)} s = ${fmt(r.tasksPerSecond)} tasks/s (machine ${fmt(r.machineBusy * 100, 0)}% busy, ${fmt(r.othersBusy * 100, 0)}% by other processes)\n`,
      );
      rounds.push(r);
    }
  }

  const of = (side: Side) => rounds.filter((r) => r.side === side);
  const med = (side: Side, key: Exclude<keyof Round, 'side' | 'ids'>) => median(of(side).map((r) => r[key]));
  const sample = async (side: Side): Promise<HistoryStats> => {
    const ids = of(side).at(-1)!.ids;
    const picked = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / 10)) === 0).slice(0, 10);
    return medianStats(await Promise.all(picked.map((id) => historyStats(bench.client, id))));
  };
  const hw = await sample('whenflow');
  const hb = await sample('baseline');
  const w = med('whenflow', 'tasksPerSecond');
  const b = med('baseline', 'tasksPerSecond');
  const met = w / b >= GOAL;
  const list = (side: Side) =>
    of(side)
      .map((r) => fmt(r.tasksPerSecond))
      .join(', ');
  const cpuRow = (label: string, key: 'serverMs' | 'benchMs' | 'mainMs' | 'workflowMs') =>
    `| ${label} | ${fmt(med('whenflow', key))} ms | ${fmt(med('baseline', key))} ms | ${ratio(med('whenflow', key), med('baseline', key))} |`;
  const otherThreads = (side: Side) => median(of(side).map((r) => r.benchMs - r.mainMs - r.workflowMs));
  const total = (side: Side) => median(of(side).map((r) => r.benchMs + r.serverMs));
  const pct = (side: Side, key: 'machineBusy' | 'othersBusy') => `${fmt(med(side, key) * 100, 0)}%`;

  const lines = [
    `- Machine: ${machine()}`,
    `- Date: ${new Date().toISOString()}`,
    `- Command: \`node --import tsx bench/p3-throughput.ts\` (${ROUNDS} round(s) per side of ${TASKS} tasks started at once, alternating sides, after a warm-up round of ${WARMUP} per side)`,
    `- Setup: one \`startDevServer()\` dev server (whenflow's settings: transfer queue reads not rate-limited, eager activity dispatch, one partition per task queue); one whenflow worker (\`createTaskWorker\`, default Worker settings) on \`bench/workspaces/chain\` (\`defaults.local: true\`: its short steps run as local activities, and run ahead from the task's catalog load), tasks started at \`{ chain: { at: ${FROM} } }\` so that s06..s10 run; one baseline worker (default settings) running regular activities s06..s10 in sequence. A round's time is from the first start call until the last result arrived.`,
    '',
    '| | whenflow | baseline | whenflow / baseline | goal |',
    '| --- | ---: | ---: | ---: | --- |',
    `| tasks per second (median of rounds) | ${fmt(w)} | ${fmt(b)} | **${ratio(w, b)}** | ≥ ${GOAL}× |`,
    `| rounds (tasks/s) | ${list('whenflow')} | ${list('baseline')} | | |`,
    `| step executions per second | ${fmt(w * STEPS)} | ${fmt(b * STEPS)} | | |`,
    `| start phase (all ${TASKS} start calls returned) | ${fmt(med('whenflow', 'startSeconds'), 2)} s | ${fmt(med('baseline', 'startSeconds'), 2)} s | | |`,
    '',
    `**Goal ${met ? 'met' : 'not met'}**: ${ratio(w, b)} against ≥ ${GOAL}×.`,
    '',
    '| CPU per task (median of rounds) | whenflow | baseline | ratio |',
    '| --- | ---: | ---: | ---: |',
    cpuRow('dev server', 'serverMs'),
    cpuRow('this process (both workers, client)', 'benchMs'),
    cpuRow('… main thread (activities, client)', 'mainMs'),
    cpuRow("… the worker's workflow thread", 'workflowMs'),
    `| … other threads (step threads, SDK core, GC, gRPC) | ${fmt(otherThreads('whenflow'))} ms | ${fmt(otherThreads('baseline'))} ms | ${ratio(otherThreads('whenflow'), otherThreads('baseline'))} |`,
    `| **total** | **${fmt(total('whenflow'))} ms** | **${fmt(total('baseline'))} ms** | **${ratio(total('whenflow'), total('baseline'))}** |`,
    `| runnable but waiting for a core: this process / dev server | ${fmt(med('whenflow', 'waitBench'))} / ${fmt(med('whenflow', 'waitServer'))} ms | ${fmt(med('baseline', 'waitBench'))} / ${fmt(med('baseline', 'waitServer'))} ms | |`,
    `| all ${CORES} cores busy during the rounds / of that, other processes on the machine | ${pct('whenflow', 'machineBusy')} / ${pct('whenflow', 'othersBusy')} | ${pct('baseline', 'machineBusy')} / ${pct('baseline', 'othersBusy')} | |`,
    '',
    '| history (median of 10 tasks of the last round) | whenflow | baseline |',
    '| --- | ---: | ---: |',
    `| bytes (historyToJSON) | ${hw.bytes} | ${hb.bytes} |`,
    `| bytes per step / per activity | **${fmt(hw.bytes / STEPS, 0)}** per step | **${fmt(hb.bytes / STEPS, 0)}** per activity |`,
    `| of which the \`loadCatalog\` local activity marker (the catalog, and the steps run ahead) | ${hw.activityEventBytes.loadCatalog ?? 0} | — |`,
    `| step activity events per step / per activity | ${fmt((hw.activityEventBytes.runStep ?? 0) / STEPS, 0)} | ${fmt(Object.values(hb.activityEventBytes).reduce((x, y) => x + y, 0) / STEPS, 0)} |`,
    `| events | ${hw.events} | ${hb.events} |`,
    `| workflow tasks | ${hw.workflowTasks} (${fmt(hw.workflowTasks / STEPS, 2)} per step) | ${hb.workflowTasks} (${fmt(hb.workflowTasks / STEPS, 2)} per activity) |`,
    `| activity tasks / local activities | ${hw.activities} / ${hw.localActivities} (the catalog, and the steps run ahead) | ${hb.activities} / ${hb.localActivities} |`,
    `| waiting for a worker, workflow tasks / activities (scheduled → started, summed) | ${fmt(hw.wftQueueMs, 0)} / ${fmt(hw.actQueueMs, 0)} ms | ${fmt(hb.wftQueueMs, 0)} / ${fmt(hb.actQueueMs, 0)} ms |`,
    `| in a worker round trip, workflow tasks / activities (started → completed, summed) | ${fmt(hw.wftRunMs, 0)} / ${fmt(hw.actRunMs, 0)} ms | ${fmt(hb.wftRunMs, 0)} / ${fmt(hb.actRunMs, 0)} ms |`,
    '',
    `Events of a whenflow task: ${eventCounts(hw)}. Of a baseline task: ${eventCounts(hb)}.`,
    '',
    whereTheTimeGoes(met, hw, hb),
  ];
  const file = writeSection(HEADING, lines.join('\n'));
  process.stdout.write(`\n${HEADING}\n\n${lines.join('\n')}\n\nwritten to ${file}\n`);

  function whereTheTimeGoes(met: boolean, hw: HistoryStats, hb: HistoryStats): string {
    const saturated = med('whenflow', 'machineBusy') > 0.9 && med('baseline', 'machineBusy') > 0.9;
    /** whenflow's CPU on a thread less the baseline's, signed. */
    const extra = (key: 'mainMs' | 'workflowMs') => {
      const difference = med('whenflow', key) - med('baseline', key);
      return `${difference < 0 ? '−' : '+'}${fmt(Math.abs(difference))}`;
    };
    const cpu = `${fmt(total('whenflow'))} ms of CPU per whenflow task against ${fmt(total('baseline'))} ms (${ratio(total('whenflow'), total('baseline'))})`;
    return [
      met ? 'Where the time goes (goal met; for reference):' : 'Where the time goes:',
      saturated
        ? `the ${CORES} cores were saturated (other processes on the machine: ${pct('whenflow', 'othersBusy')} / ${pct('baseline', 'othersBusy')}), so throughput follows CPU per task, ${cpu}:`
        : `the cores were only ${pct('whenflow', 'machineBusy')} / ${pct('baseline', 'machineBusy')} busy, so CPU per task, ${cpu}, explains only part of it:`,
      `${fmt(med('whenflow', 'serverMs'))} against ${fmt(med('baseline', 'serverMs'))} ms in the dev server (${hw.events} events and ${hw.workflowTasks} workflow tasks per task instead of ${hb.events} and ${hb.workflowTasks}; the catalog's local activity marker, with the steps run ahead, is ${hw.activityEventBytes.loadCatalog ?? 0} of the ${hw.bytes} history bytes)`,
      `and ${fmt(med('whenflow', 'benchMs'))} against ${fmt(med('baseline', 'benchMs'))} ms in this process: ${extra('mainMs')} ms on the main thread (activities: reading the workspace's stamps, handing steps to step threads, choosing the steps run ahead), ${extra('workflowMs')} ms on the workflow thread, the rest in the step threads (the step in a data proxy, diffing, the realm check), the SDK core and GC.`,
      `Per step the baseline uses one workflow task and one activity task; whenflow runs its short steps as local activities, ahead of its cycles: ${hw.workflowTasks} workflow task(s) and ${hw.localActivities} marker(s) per task in all (the catalog's included).`,
    ].join(' ');
  }
} finally {
  await bench.close();
}
