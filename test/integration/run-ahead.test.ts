import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTask, taskEvents, updateTask, waitForTask } from '../../src/client';
import type { JsonObject } from '../../src/model/json';
import type { TaskEvent } from '../../src/model/events';
import type { StepOutcome, StepRanAhead } from '../../src/model/task';
import { replayTasks, startHarness, type TestHarness } from '../support/temporal';

/**
 * Running ahead (docs/how-a-task-runs.md, "Running ahead"): the steps of test/workspaces/run-ahead are local,
 * so a new task's catalog load, and the local activity of a step, run the steps the cycle chooses next until
 * one gives a command, calls a connector, fails, is not local, or time is up; the workflow takes each outcome
 * as its own cycle's. A scenario starts with `{ <key>: { start: true } }` (its first steps run ahead from the
 * catalog load) or with `{ go: '<key>' }` (a regular step starts it: its first step runs in a local activity
 * of its own, which runs the next ones ahead).
 */
const workspace = join(import.meta.dirname, '..', 'workspaces', 'run-ahead');
let harness: TestHarness;

beforeAll(async () => {
  harness = await startHarness(workspace);
  // The first execution starts the worker's step threads (and spare ones, 0.5–1 s of CPU each): running
  // ahead is bounded to 1 s from the activity's start, so the cases start once that is done.
  const warm = await harness.runTask({ name: 'warm-up', data: { warm: true } });
  expect(warm.state).toBe('done');
  await sleep(3_000);
});

afterAll(async () => {
  if (harness) {
    // Histories whose local activities ran steps ahead replay with the current code.
    const replayed = await replayTasks(harness.client, harness.taskIds, 'run-ahead');
    expect(replayed).toBe(harness.taskIds.length);
    await harness.close();
  }
});

interface JsonPayload {
  data?: string;
}

interface HistoryEvent {
  eventType: string;
  [attributes: string]: unknown;
}

/** One local activity of a task, as its marker records it. */
interface LocalRun {
  activity: 'loadCatalog' | 'runStep';
  /** The steps it ran, in order: for runStep its own step (the marker's summary) first, then those run ahead. */
  steps: string[];
  attempt: number;
  /** Its own outcome (runStep), then the outcomes of the steps run ahead. */
  outcomes: (StepOutcome | StepRanAhead)[];
}

const decode = (payload: JsonPayload | undefined): unknown =>
  payload?.data ? JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) : undefined;

async function historyOf(taskId: string): Promise<HistoryEvent[]> {
  const history = await harness.client.workflow.getHandle(taskId).fetchHistory();
  return (JSON.parse(historyToJSON(history)) as { events: HistoryEvent[] }).events;
}

/** The task's local activities (catalog load and steps), in the order their markers were recorded. */
function localRuns(events: HistoryEvent[]): LocalRun[] {
  const runs: LocalRun[] = [];
  for (const event of events) {
    const marker = event.markerRecordedEventAttributes as
      | { markerName?: string; details?: Record<string, { payloads?: JsonPayload[] }> }
      | undefined;
    if (marker?.markerName !== 'core_local_activity') continue;
    const about = decode(marker.details?.data?.payloads?.[0]) as { activity_type?: string; attempt?: number };
    const result = decode(marker.details?.result?.payloads?.[0]) as (StepOutcome & { version?: string }) | undefined;
    const ahead = result?.ahead ?? [];
    if (about.activity_type === 'loadCatalog') {
      runs.push({ activity: 'loadCatalog', steps: ahead.map((ran) => ran.step), attempt: about.attempt ?? 0, outcomes: ahead });
    } else if (about.activity_type === 'runStep') {
      const step = decode((event.userMetadata as { summary?: JsonPayload } | undefined)?.summary) as string;
      runs.push({
        activity: 'runStep',
        steps: [step, ...ahead.map((ran) => ran.step)],
        attempt: about.attempt ?? 0,
        outcomes: result ? [result, ...ahead] : [],
      });
    }
  }
  return runs;
}

const shape = (runs: LocalRun[]) => runs.map(({ activity, steps }) => ({ activity, steps }));

/** Steps scheduled as regular activities (ActivityTaskScheduled of runStep), by step name. */
function scheduledSteps(events: HistoryEvent[]): string[] {
  return events.flatMap((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes as
      | { activityType?: { name?: string }; input?: { payloads?: JsonPayload[] } }
      | undefined;
    return scheduled?.activityType?.name === 'runStep' ? [(decode(scheduled.input?.payloads?.[0]) as { step: string }).step] : [];
  });
}

async function eventsOf(taskId: string): Promise<TaskEvent[]> {
  const events: TaskEvent[] = [];
  for await (const event of taskEvents(harness.client, taskId)) events.push(event);
  return events;
}

/** The steps that finished, in order, as `step@cycle`. */
const finished = (events: TaskEvent[]) =>
  events.flatMap((event) => (event.type === 'step-finished' ? [`${event.step}@${event.cycle}`] : []));

/** A local HTTP server the steps and connectors of a case talk to; each request is answered by `answer`. */
async function testServer(answer: (req: IncomingMessage, res: ServerResponse, count: number) => void) {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(new URL(req.url ?? '/', 'http://localhost').pathname);
    // The server closes each connection: nothing is left open in the step thread that asked.
    res.setHeader('connection', 'close');
    answer(req, res, requests.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * How a scenario starts. `load`: from its start flag, so the catalog load runs its first steps ahead. `step`:
 * through the regular step `kickoff`, so the load runs nothing ahead and the scenario's first step is a local
 * activity of its own that runs the next ones ahead.
 */
type Start = 'load' | 'step';
const STARTS: Start[] = ['load', 'step'];

function startData(start: Start, key: string, fields: JsonObject = {}): JsonObject {
  return start === 'load' ? { [key]: { ...fields, start: true } } : { go: key, [key]: fields };
}

/**
 * The local activities a scenario's steps run in, given the steps each one ran (`groups`), and the steps run
 * as regular activities: started from its start flag, the first group is the catalog load's; started by
 * `kickoff`, the load runs nothing ahead and every group is a step's local activity.
 */
function expectedRuns(start: Start, groups: string[][]) {
  const runs =
    start === 'load'
      ? groups.map((steps, i) => ({ activity: i === 0 ? 'loadCatalog' : 'runStep', steps }))
      : [{ activity: 'loadCatalog', steps: [] }, ...groups.map((steps) => ({ activity: 'runStep', steps }))];
  return { runs, regular: start === 'load' ? [] : ['kickoff'] };
}

/** The steps a scenario's task finishes, `step@cycle`, one cycle each (after `kickoff` when it started it). */
function expectedFinished(start: Start, steps: string[]): string[] {
  const all = start === 'load' ? steps : ['kickoff', ...steps];
  return all.map((step, i) => `${step}@${i + 1}`);
}

describe.each(STARTS)('running ahead (started from %s)', (start) => {
  it('a chain of four local steps runs in one local activity, each step in its own cycle', async () => {
    const task = await harness.runTask({ name: `chain-${start}`, data: startData(start, 'chain') });
    expect(task.state).toBe('done');
    const seen = ['chain_a', 'chain_b', 'chain_c', 'chain_d'];
    expect(task.result).toEqual({ seen });
    expect(task.data).toEqual({ chain: { start: true, a: true, b: true, c: true, d: true, seen } });

    const history = await historyOf(task.taskId);
    const expected = expectedRuns(start, [seen]);
    const runs = localRuns(history);
    expect(shape(runs)).toEqual(expected.runs);
    expect(scheduledSteps(history)).toEqual(expected.regular);
    // Each step ran once, on the data the one before left; only the last one gave a command.
    const outcomes = runs.flatMap((run) => run.outcomes);
    expect(outcomes.map((outcome) => outcome.patch.map((op) => op.path).sort())).toEqual(
      ['a', 'b', 'c', 'd'].map((flag) => [`/chain/${flag}`, '/chain/seen']),
    );
    expect(outcomes.map((outcome) => outcome.commands)).toEqual([[], [], [], [{ type: 'complete', result: { seen } }]]);
    expect(outcomes.map((outcome) => outcome.attempt)).toEqual([1, 1, 1, 1]);

    // The task records each step in a cycle of its own, as if it had run on its own.
    const cycles = expectedFinished(start, seen);
    expect(task.stepRuns).toBe(cycles.length);
    expect(task.cycle).toBe(cycles.length);
    expect(task.trace.map(({ step, cycle, attempt }) => `${step}@${cycle}#${attempt}`)).toEqual(cycles.map((c) => `${c}#1`));
    expect(task.trace.filter((entry) => entry.step !== 'kickoff').map((entry) => entry.changed)).toEqual(
      ['a', 'b', 'c', 'd'].map((flag) => [`/chain/${flag}`, '/chain/seen']),
    );
    const events = await eventsOf(task.taskId);
    expect(finished(events)).toEqual(cycles);
    expect(events.flatMap((event) => (event.type === 'cycle-began' ? [event.steps] : []))).toEqual(
      cycles.map((entry) => [entry.split('@')[0]]),
    );
  });

  it('a step that gives a command is the last one run ahead: the next step runs in a local activity of its own', async () => {
    const task = await harness.runTask({ name: `command-${start}`, data: startData(start, 'cmd') });
    expect(task.state).toBe('done');
    expect(task.name).toBe('renamed by cmd_b');
    expect(task.data).toEqual({ cmd: { start: true, a: true, b: true, c: true, d: true } });
    const history = await historyOf(task.taskId);
    const expected = expectedRuns(start, [
      ['cmd_a', 'cmd_b'],
      ['cmd_c', 'cmd_d'],
    ]);
    const runs = localRuns(history);
    expect(shape(runs)).toEqual(expected.runs);
    expect(scheduledSteps(history)).toEqual(expected.regular);
    const cmdB = runs.flatMap((run) => run.outcomes).find((outcome) => 'step' in outcome && outcome.step === 'cmd_b');
    expect(cmdB?.commands).toEqual([{ type: 'name', name: 'renamed by cmd_b' }]);
    expect(finished(await eventsOf(task.taskId))).toEqual(expectedFinished(start, ['cmd_a', 'cmd_b', 'cmd_c', 'cmd_d']));
  });

  it('a step that calls a connector in its content is the last one run ahead, and the call is made once', async () => {
    const server = await testServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ stock: 7 }));
    });
    try {
      const task = await harness.runTask({ name: `connector-${start}`, data: startData(start, 'conn', { url: server.url }) });
      expect(task.state).toBe('done');
      expect(task.data).toEqual({ conn: { url: server.url, start: true, a: true, answer: { stock: 7 }, b: true, c: true, d: true } });
      expect(server.requests).toEqual(['/conn_b']);
      const history = await historyOf(task.taskId);
      const expected = expectedRuns(start, [
        ['conn_a', 'conn_b'],
        ['conn_c', 'conn_d'],
      ]);
      const runs = localRuns(history);
      expect(shape(runs)).toEqual(expected.runs);
      expect(scheduledSteps(history)).toEqual(expected.regular);
      // The call is no command: running ahead stopped because of the call itself.
      const connB = runs.flatMap((run) => run.outcomes).find((outcome) => 'step' in outcome && outcome.step === 'conn_b');
      expect(connB?.commands).toEqual([]);
      expect(connB?.patch.map((op) => op.path).sort()).toEqual(['/conn/answer', '/conn/b']);
    } finally {
      await server.close();
    }
  });

  it('a step that fails when run ahead runs again in a local activity of its own; the steps before it stand', async () => {
    const server = await testServer((_req, res, count) => res.end(count === 1 ? 'fail' : 'ok'));
    const stderr = vi.spyOn(process.stderr, 'write');
    try {
      const task = await harness.runTask({ name: `flaky-${start}`, data: startData(start, 'flaky', { url: server.url }) });
      expect(task.state).toBe('done');
      // flaky_c allows one attempt: the execution run ahead used none of them.
      expect(task.data).toEqual({ flaky: { url: server.url, start: true, a: true, b: true, c: true, attempt: 1, d: true } });
      expect(server.requests).toEqual(['/flaky_c', '/flaky_c']);
      const history = await historyOf(task.taskId);
      const expected = expectedRuns(start, [
        ['flaky_a', 'flaky_b'],
        ['flaky_c', 'flaky_d'],
      ]);
      const runs = localRuns(history);
      expect(shape(runs)).toEqual(expected.runs);
      expect(runs.map((run) => run.attempt)).toEqual(expected.runs.map(() => 1));
      expect(scheduledSteps(history)).toEqual(expected.regular);
      const logged = stderr.mock.calls.map(([chunk]) => String(chunk)).filter((line) => line.includes('running ahead'));
      expect(logged).toEqual([
        `whenflow: task ${task.taskId} step flaky_c failed running ahead; it runs again as its own activity: the server said fail\n`,
      ]);
      // The failure run ahead is no failure of the task.
      const events = await eventsOf(task.taskId);
      expect(events.filter((event) => event.type === 'step-failed')).toEqual([]);
      expect(finished(events)).toEqual(expectedFinished(start, ['flaky_a', 'flaky_b', 'flaky_c', 'flaky_d']));
      expect(task.trace.map((entry) => entry.attempt)).toEqual(task.trace.map(() => 1));
    } finally {
      stderr.mockRestore();
      await server.close();
    }
  });

  it('a step that takes longer than the 1 s window is the last one run ahead', async () => {
    const task = await harness.runTask({ name: `slow-${start}`, data: startData(start, 'slow') });
    expect(task.state).toBe('done');
    expect(task.data).toEqual({ slow: { start: true, a: true, b: true, c: true, d: true } });
    const history = await historyOf(task.taskId);
    const expected = expectedRuns(start, [
      ['slow_a', 'slow_b'],
      ['slow_c', 'slow_d'],
    ]);
    const runs = localRuns(history);
    expect(shape(runs)).toEqual(expected.runs);
    const slowB = runs.flatMap((run) => run.outcomes).find((outcome) => 'step' in outcome && outcome.step === 'slow_b');
    expect(slowB?.durationMs).toBeGreaterThanOrEqual(1_100);
  });

  it('a step that is not local is not run ahead: it runs as a regular activity, and the local step after it runs ahead again', async () => {
    const task = await harness.runTask({ name: `regular-${start}`, data: startData(start, 'reg') });
    expect(task.state).toBe('done');
    expect(task.data).toEqual({ reg: { start: true, a: true, b: true, c: true, d: true } });
    const history = await historyOf(task.taskId);
    const expected = expectedRuns(start, [['reg_a'], ['reg_c', 'reg_d']]);
    expect(shape(localRuns(history))).toEqual(expected.runs);
    expect(scheduledSteps(history)).toEqual([...expected.regular, 'reg_b']);
  });

  it('runs no further step than the task’s maxStepRuns allows', async () => {
    const task = await harness.runTask({ name: `bounded-${start}`, data: startData(start, 'chain'), maxStepRuns: 3 });
    expect(task.state).toBe('error');
    expect(task.error?.reason).toBe('max-step-runs');
    const ran = start === 'load' ? ['chain_a', 'chain_b', 'chain_c'] : ['chain_a', 'chain_b'];
    expect(task.data.chain).toEqual({ start: true, ...Object.fromEntries(ran.map((step) => [step.slice(-1), true])), seen: ran });
    expect(task.stepRuns).toBe(3);
    expect(shape(localRuns(await historyOf(task.taskId)))).toEqual(expectedRuns(start, [ran]).runs);
  });
});

describe('a task that does not run ahead', () => {
  // `kickoff` starts them: see "replaying local steps" below for tasks whose first step is local.
  const chain = ['chain_a', 'chain_b', 'chain_c', 'chain_d'];
  const oneByOne = [{ activity: 'loadCatalog', steps: [] }, ...chain.map((step) => ({ activity: 'runStep', steps: [step] }))];

  it('runs a parallel batch (concurrency above 1) one local activity per step', async () => {
    const task = await harness.runTask({ name: 'batches', data: { go: 'chain' }, concurrency: 2 });
    expect(task.state).toBe('done');
    const history = await historyOf(task.taskId);
    expect(shape(localRuns(history))).toEqual(oneByOne);
    expect(scheduledSteps(history)).toEqual(['kickoff']);
  });

  it('follows an explicit sequence one local activity per step', async () => {
    const sequence = ['kickoff', ...chain];
    const task = await harness.runTask({ name: 'sequence', data: { go: 'chain' }, sequence });
    expect(task.state).toBe('done');
    expect(task.data.chain).toEqual({ start: true, a: true, b: true, c: true, d: true, seen: chain });
    const history = await historyOf(task.taskId);
    expect(shape(localRuns(history))).toEqual(oneByOne);
    expect(scheduledSteps(history)).toEqual(['kickoff']);
  });
});

describe('replaying local steps', () => {
  /**
   * A task whose catalog load runs nothing ahead (here: concurrency 2) and whose first step is local. When the
   * load's local activity completes within milliseconds, the worker may complete the first workflow task with
   * the load's marker alone and record the `local-step-activities` patch marker in the next one (as the
   * histories that fail show); their replay fails with "Non-deprecated patch marker encountered for change
   * local-step-activities". The tasks are replayed here one by one, so they are not in the harness's list.
   */
  it('a task whose first step is local and whose catalog load runs nothing ahead replays (twenty tasks)', async () => {
    const taskIds: string[] = [];
    for (let i = 1; i <= 20; i++) {
      const handle = await startTask(harness.client, {
        name: `replay-${i}`,
        data: { chain: { start: true } },
        concurrency: 2,
        taskQueue: harness.taskQueue,
      });
      taskIds.push(handle.workflowId);
      const task = await waitForTask(harness.client, handle.workflowId, { timeoutMs: 60_000 });
      expect(task.state).toBe('done');
      expect(shape(localRuns(await historyOf(handle.workflowId)))).toEqual([
        { activity: 'loadCatalog', steps: [] },
        ...['chain_a', 'chain_b', 'chain_c', 'chain_d'].map((step) => ({ activity: 'runStep', steps: [step] })),
      ]);
    }
    const failures: string[] = [];
    for (const taskId of taskIds) {
      try {
        await replayTasks(harness.client, [taskId], 'run-ahead');
      } catch (error) {
        failures.push(`${taskId}: ${/Nondeterminism error: [^"]*/.exec(String(error))?.[0] ?? String(error)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('an update that arrives while steps run ahead', () => {
  /**
   * `kickoff` starts the scenario; upd_a's local activity runs upd_b and upd_c ahead, and upd_c holds until
   * the test's server answers. A workflow task that runs local activities is extended every 8 s: the update
   * sent meanwhile reaches the task in such an extension, while the activity still runs, and is answered in
   * the next one (about 16 s in). Only then does the server answer upd_c, so the update certainly arrived
   * before the steps run ahead took effect. With `concurrency: 2` nothing runs ahead: upd_c holds in a local
   * activity of its own.
   */
  async function raceUpdate(patch: JsonObject, options: { concurrency?: number } = {}) {
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    let holding: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const server = await testServer((_req, res) => {
      holding();
      void answered.then(() => res.end('by step'));
    });
    try {
      const handle = await startTask(harness.client, {
        name: 'update-while-ahead',
        data: { go: 'upd', upd: { url: server.url } },
        taskQueue: harness.taskQueue,
        ...options,
      });
      harness.taskIds.push(handle.workflowId);
      await held;
      expect(await updateTask(harness.client, handle.workflowId, patch)).toBe('running');
      // upd_c is still waiting for its answer.
      expect(server.requests).toEqual(['/upd_c']);
      answer();
      const task = await waitForTask(harness.client, handle.workflowId, { timeoutMs: 60_000 });
      const history = await historyOf(handle.workflowId);
      return { task, history, server };
    } finally {
      answer();
      await server.close();
    }
  }

  it('is taken in after them, as if it had arrived just after them', async () => {
    const { task, history, server } = await raceUpdate({ upd: { fromOutside: 'yes' } });
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ fromOutside: 'yes' });
    expect(task.data).toEqual({
      upd: { url: server.url, start: true, a: true, b: true, held: 'by step', c: true, fromOutside: 'yes', d: true },
    });
    expect(shape(localRuns(history))).toEqual([
      { activity: 'loadCatalog', steps: [] },
      { activity: 'runStep', steps: ['upd_a', 'upd_b', 'upd_c'] },
      { activity: 'runStep', steps: ['upd_d', 'upd_done'] },
    ]);
    // The update was accepted before the activity that ran upd_a, upd_b and upd_c was recorded.
    const accepted = history.findIndex((event) => event.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED');
    const chain = history.findIndex((event) => localRuns([event])[0]?.steps[0] === 'upd_a');
    expect(accepted).toBeGreaterThan(0);
    expect(chain).toBeGreaterThan(accepted);
    // In the task's events the steps run ahead finish before the update is taken in; upd_d comes after it.
    const events = await eventsOf(task.taskId);
    const order = events.flatMap((event) =>
      event.type === 'step-finished'
        ? [`${event.step}@${event.cycle}`]
        : event.type === 'data-updated'
          ? [`update of ${event.keys.join(',')}`]
          : [],
    );
    expect(order).toEqual(['kickoff@1', 'upd_a@2', 'upd_b@3', 'upd_c@4', 'update of upd', 'upd_d@5', 'upd_done@6']);
    expect(task.conflicts).toEqual([]);
  });

  it('that replaces what a step running in its own local activity wrote is recorded as a conflict', async () => {
    // The same race without running ahead: the rule of docs/semantics.md, "Updates that arrive while steps run".
    const { task, history, server } = await raceUpdate({ upd: { fromOutside: 'yes', held: 'by update' } }, { concurrency: 2 });
    expect(task.state).toBe('done');
    expect(task.data).toEqual({
      upd: { url: server.url, start: true, a: true, b: true, held: 'by update', c: true, fromOutside: 'yes', d: true },
    });
    expect(shape(localRuns(history)).map((run) => run.steps)).toEqual([[], ['upd_a'], ['upd_b'], ['upd_c'], ['upd_d'], ['upd_done']]);
    expect(task.conflicts).toEqual([{ cycle: 4, paths: ['/upd/held'], kept: 'update', dropped: 'upd_c', outcome: 'overwritten' }]);
  });

  it('that replaces what a step run ahead wrote is recorded as a conflict, as for the steps of one cycle', async () => {
    // docs/semantics.md, "Updates that arrive while steps run": what arrives while steps run ahead is taken in
    // after them "as for the steps of one cycle": where the update writes what such a step wrote, its value
    // stands and a conflict is recorded. The update arrived while upd_c, run ahead, was running.
    const { task, server } = await raceUpdate({ upd: { fromOutside: 'yes', held: 'by update' } });
    expect(task.state).toBe('done');
    expect(task.data).toEqual({
      upd: { url: server.url, start: true, a: true, b: true, held: 'by update', c: true, fromOutside: 'yes', d: true },
    });
    expect(task.conflicts).toEqual([{ cycle: 4, paths: ['/upd/held'], kept: 'update', dropped: 'upd_c', outcome: 'overwritten' }]);
  });
});
