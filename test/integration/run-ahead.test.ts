import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTask, taskEvents, updateTask, waitForTask } from '../../src/client';
import type { TaskEvent } from '../../src/model/events';
import type { StepOutcome } from '../../src/model/task';
import { replayTasks, startHarness, type TestHarness } from '../support/temporal';

/**
 * Running ahead (src/cycle/run-ahead.ts): every step of test/workspaces/run-ahead is local, so the local
 * activity of a task's step runs the steps the cycle chooses after it, until one gives a command, calls a
 * connector, fails, is not local, or time is up; the workflow takes each outcome as its cycle's own.
 */
const workspace = join(import.meta.dirname, '..', 'workspaces', 'run-ahead');
let harness: TestHarness;

beforeAll(async () => {
  harness = await startHarness(workspace);
  // The first execution starts the worker's step threads (and spare ones, 0.5–1 s of CPU each): running
  // ahead is bounded to 1 s from the activity's start, so the cases below start once that is done.
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
  eventId: string;
  eventType: string;
  [attributes: string]: unknown;
}

/** One local activity of runStep, as its marker records it. */
interface StepMarker {
  /** The step the workflow scheduled (the marker's summary). */
  step: string;
  attempt: number;
  /** The steps it ran ahead, in order. */
  ahead: string[];
  outcome: StepOutcome;
}

const decode = (payload: JsonPayload | undefined): unknown =>
  payload?.data ? JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) : undefined;

async function historyOf(taskId: string): Promise<HistoryEvent[]> {
  const history = await harness.client.workflow.getHandle(taskId).fetchHistory();
  return (JSON.parse(historyToJSON(history)) as { events: HistoryEvent[] }).events;
}

/** The runStep markers of a task's history, in order. */
function stepMarkers(events: HistoryEvent[]): StepMarker[] {
  const markers: StepMarker[] = [];
  for (const event of events) {
    const marker = event.markerRecordedEventAttributes as
      | { markerName?: string; details?: Record<string, { payloads?: JsonPayload[] }> }
      | undefined;
    if (marker?.markerName !== 'core_local_activity') continue;
    const about = decode(marker.details?.data?.payloads?.[0]) as { activity_type?: string; attempt?: number };
    if (about.activity_type !== 'runStep') continue;
    const outcome = decode(marker.details?.result?.payloads?.[0]) as StepOutcome;
    const summary = (event.userMetadata as { summary?: JsonPayload } | undefined)?.summary;
    markers.push({
      step: decode(summary) as string,
      attempt: about.attempt ?? 0,
      ahead: (outcome.ahead ?? []).map((ran) => ran.step),
      outcome,
    });
  }
  return markers;
}

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

/** The steps that finished, in order, with their cycles. */
const finished = (events: TaskEvent[]) =>
  events.flatMap((event) => (event.type === 'step-finished' ? [{ step: event.step, cycle: event.cycle, attempt: event.attempt }] : []));

/** A local HTTP server the steps and connectors of a case talk to; each request is answered by `answer`. */
async function testServer(answer: (req: IncomingMessage, res: ServerResponse, index: number) => void) {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(new URL(req.url ?? '/', 'http://localhost').pathname);
    // No keep-alive socket outlives the request.
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

describe('a local step runs the next steps ahead', () => {
  it('a chain of four local steps runs in one local activity, and each step is its own cycle', async () => {
    const task = await harness.runTask({ name: 'chain', data: { chain: { start: true } } });
    expect(task.state).toBe('done');
    const seen = ['chain_a', 'chain_b', 'chain_c', 'chain_d'];
    expect(task.result).toEqual({ seen });
    expect(task.data).toEqual({ chain: { start: true, a: true, b: true, c: true, d: true, seen } });

    const history = await historyOf(task.taskId);
    const markers = stepMarkers(history);
    expect(markers.map(({ step, attempt, ahead }) => ({ step, attempt, ahead }))).toEqual([
      { step: 'chain_a', attempt: 1, ahead: ['chain_b', 'chain_c', 'chain_d'] },
    ]);
    expect(scheduledSteps(history)).toEqual([]);
    // Each step ran on the data the one before left; only the last one gave a command.
    const [marker] = markers;
    expect(marker!.outcome.patch.map((op) => op.path).sort()).toEqual(['/chain/a', '/chain/seen']);
    expect(marker!.outcome.commands).toEqual([]);
    const ahead = marker!.outcome.ahead ?? [];
    expect(ahead.map((ran) => ran.patch.map((op) => op.path).sort())).toEqual([
      ['/chain/b', '/chain/seen'],
      ['/chain/c', '/chain/seen'],
      ['/chain/d', '/chain/seen'],
    ]);
    expect(ahead.map((ran) => ran.commands)).toEqual([[], [], [{ type: 'complete', result: { seen } }]]);
    expect(ahead.map((ran) => ran.attempt)).toEqual([1, 1, 1]);

    // The task records four steps in four consecutive cycles, as if each had run on its own.
    expect(task.stepRuns).toBe(4);
    expect(task.cycle).toBe(4);
    expect(task.trace.map(({ step, cycle, attempt, changed }) => ({ step, cycle, attempt, changed }))).toEqual(
      seen.map((step, i) => ({ step, cycle: i + 1, attempt: 1, changed: [`/chain/${step.slice(-1)}`, '/chain/seen'] })),
    );
    const events = await eventsOf(task.taskId);
    expect(finished(events)).toEqual(seen.map((step, i) => ({ step, cycle: i + 1, attempt: 1 })));
    expect(events.filter((event) => event.type === 'cycle-began').map((event) => event.type === 'cycle-began' && event.steps)).toEqual(
      seen.map((step) => [step]),
    );
  });

  it('a step that gives a command is the last one run ahead: the next step runs in a local activity of its own', async () => {
    const task = await harness.runTask({ name: 'command', data: { cmd: { start: true } } });
    expect(task.state).toBe('done');
    expect(task.name).toBe('renamed by cmd_b');
    expect(task.data).toEqual({ cmd: { start: true, a: true, b: true, c: true, d: true } });
    const markers = stepMarkers(await historyOf(task.taskId));
    expect(markers.map(({ step, ahead }) => ({ step, ahead }))).toEqual([
      { step: 'cmd_a', ahead: ['cmd_b'] },
      { step: 'cmd_c', ahead: ['cmd_d'] },
    ]);
    expect(markers[0]!.outcome.ahead?.[0]?.commands).toEqual([{ type: 'name', name: 'renamed by cmd_b' }]);
    expect(finished(await eventsOf(task.taskId))).toEqual(
      ['cmd_a', 'cmd_b', 'cmd_c', 'cmd_d'].map((step, i) => ({ step, cycle: i + 1, attempt: 1 })),
    );
  });

  it('a step that calls a connector in its content is the last one run ahead, and the call is made once', async () => {
    const server = await testServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ stock: 7 }));
    });
    try {
      const task = await harness.runTask({ name: 'connector', data: { conn: { url: server.url, start: true } } });
      expect(task.state).toBe('done');
      expect(task.data).toEqual({ conn: { url: server.url, start: true, a: true, answer: { stock: 7 }, b: true, c: true, d: true } });
      expect(server.requests).toEqual(['/conn_b']);
      const markers = stepMarkers(await historyOf(task.taskId));
      expect(markers.map(({ step, ahead }) => ({ step, ahead }))).toEqual([
        { step: 'conn_a', ahead: ['conn_b'] },
        { step: 'conn_c', ahead: ['conn_d'] },
      ]);
      // The connector call is no command: running ahead stopped because of the call itself.
      expect(markers[0]!.outcome.ahead?.[0]?.commands).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a step that fails when run ahead runs again in a local activity of its own; the steps before it stand', async () => {
    const server = await testServer((_req, res, index) => res.end(index === 1 ? 'fail' : 'ok'));
    const stderr = vi.spyOn(process.stderr, 'write');
    try {
      const task = await harness.runTask({ name: 'flaky', data: { flaky: { url: server.url, start: true } } });
      expect(task.state).toBe('done');
      // flaky_c allows one attempt: the execution run ahead took none of them.
      expect(task.data).toEqual({ flaky: { url: server.url, start: true, a: true, b: true, c: true, attempt: 1, d: true } });
      expect(server.requests).toEqual(['/flaky_c', '/flaky_c']);
      const markers = stepMarkers(await historyOf(task.taskId));
      expect(markers.map(({ step, attempt, ahead }) => ({ step, attempt, ahead }))).toEqual([
        { step: 'flaky_a', attempt: 1, ahead: ['flaky_b'] },
        { step: 'flaky_c', attempt: 1, ahead: ['flaky_d'] },
      ]);
      const logged = stderr.mock.calls.map(([chunk]) => String(chunk)).filter((line) => line.includes(task.taskId));
      expect(logged).toEqual([
        `whenflow: task ${task.taskId} step flaky_c failed running ahead; it runs again as its own activity: the server said fail\n`,
      ]);
      // The failure run ahead is no failure of the task.
      const events = await eventsOf(task.taskId);
      expect(events.filter((event) => event.type === 'step-failed')).toEqual([]);
      expect(finished(events)).toEqual(['flaky_a', 'flaky_b', 'flaky_c', 'flaky_d'].map((step, i) => ({ step, cycle: i + 1, attempt: 1 })));
    } finally {
      stderr.mockRestore();
      await server.close();
    }
  });

  it('a step that takes longer than the 1 s window is the last one run ahead', async () => {
    const task = await harness.runTask({ name: 'slow', data: { slow: { start: true } } });
    expect(task.state).toBe('done');
    expect(task.data).toEqual({ slow: { start: true, a: true, b: true, c: true, d: true } });
    const markers = stepMarkers(await historyOf(task.taskId));
    expect(markers.map(({ step, ahead }) => ({ step, ahead }))).toEqual([
      { step: 'slow_a', ahead: ['slow_b'] },
      { step: 'slow_c', ahead: ['slow_d'] },
    ]);
    expect(markers[0]!.outcome.ahead?.[0]?.durationMs).toBeGreaterThanOrEqual(1_100);
  });

  it('a step that is not local is not run ahead: it runs as a regular activity, and the local step after it runs ahead again', async () => {
    const task = await harness.runTask({ name: 'regular', data: { reg: { start: true } } });
    expect(task.state).toBe('done');
    expect(task.data).toEqual({ reg: { start: true, a: true, b: true, c: true, d: true } });
    const history = await historyOf(task.taskId);
    expect(stepMarkers(history).map(({ step, ahead }) => ({ step, ahead }))).toEqual([
      { step: 'reg_a', ahead: [] },
      { step: 'reg_c', ahead: ['reg_d'] },
    ]);
    expect(scheduledSteps(history)).toEqual(['reg_b']);
  });
});

describe('when a task does not run ahead', () => {
  it('runs no further step than its maxStepRuns allows', async () => {
    const task = await harness.runTask({ name: 'bounded', data: { chain: { start: true } }, maxStepRuns: 3 });
    expect(task.state).toBe('error');
    expect(task.error?.reason).toBe('max-step-runs');
    expect(task.data).toEqual({ chain: { start: true, a: true, b: true, c: true, seen: ['chain_a', 'chain_b', 'chain_c'] } });
    expect(stepMarkers(await historyOf(task.taskId)).map(({ step, ahead }) => ({ step, ahead }))).toEqual([
      { step: 'chain_a', ahead: ['chain_b', 'chain_c'] },
    ]);
  });

  it('runs parallel batches (concurrency above 1) one local activity per step', async () => {
    const task = await harness.runTask({ name: 'batches', data: { chain: { start: true } }, concurrency: 2 });
    expect(task.state).toBe('done');
    expect(stepMarkers(await historyOf(task.taskId)).map(({ step, ahead }) => ({ step, ahead }))).toEqual(
      ['chain_a', 'chain_b', 'chain_c', 'chain_d'].map((step) => ({ step, ahead: [] })),
    );
  });

  it('follows an explicit sequence one local activity per step', async () => {
    const sequence = ['chain_a', 'chain_b', 'chain_c', 'chain_d'];
    const task = await harness.runTask({ name: 'sequence', data: { chain: { start: true } }, sequence });
    expect(task.state).toBe('done');
    expect(task.data.chain).toEqual({ start: true, a: true, b: true, c: true, d: true, seen: sequence });
    expect(stepMarkers(await historyOf(task.taskId)).map(({ step, ahead }) => ({ step, ahead }))).toEqual(
      sequence.map((step) => ({ step, ahead: [] })),
    );
  });
});

describe('an update that arrives while steps run ahead', () => {
  /**
   * upd_a runs upd_b and upd_c ahead; upd_c holds until the test's server answers. A workflow task that runs
   * local activities is extended every 8 s: the update sent meanwhile reaches the task in such an extension,
   * while the activity still runs, and is completed in the next one (about 16 s in). Only then does the server
   * answer, so the update certainly arrived before the steps run ahead took effect.
   */
  async function raceUpdate(patch: Record<string, unknown>) {
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
        data: { upd: { url: server.url, start: true } },
        taskQueue: harness.taskQueue,
      });
      harness.taskIds.push(handle.workflowId);
      await held;
      let updated = false;
      const update = updateTask(harness.client, handle.workflowId, patch).then((state) => {
        updated = true;
        return state;
      });
      expect(await update).toBe('running');
      expect(server.requests).toEqual(['/upd_c']);
      answer();
      const task = await waitForTask(harness.client, handle.workflowId, { timeoutMs: 60_000 });
      expect(updated).toBe(true);
      return { task, server };
    } finally {
      answer();
      await server.close();
    }
  }

  it('is taken in after them, as if it had arrived after them', async () => {
    const { task, server } = await raceUpdate({ upd: { fromOutside: 'yes' } });
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ fromOutside: 'yes' });
    expect(task.data).toEqual({ upd: { url: server.url, start: true, a: true, b: true, held: 'by step', c: true, fromOutside: 'yes', d: true } });

    const history = await historyOf(task.taskId);
    const markers = stepMarkers(history);
    expect(markers.map(({ step, ahead }) => ({ step, ahead }))).toEqual([
      { step: 'upd_a', ahead: ['upd_b', 'upd_c'] },
      { step: 'upd_d', ahead: ['upd_done'] },
    ]);
    // The update was accepted (and answered) before the activity that ran upd_b and upd_c was recorded.
    const accepted = history.findIndex((event) => event.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED');
    const firstMarker = history.findIndex((event) => stepMarkers([event]).length === 1);
    expect(accepted).toBeGreaterThan(0);
    expect(firstMarker).toBeGreaterThan(accepted);

    // In the task's events the steps run ahead finish before the update is taken in, and upd_d after it.
    const events = await eventsOf(task.taskId);
    const order = events.flatMap((event) =>
      event.type === 'step-finished' ? [`${event.step}@${event.cycle}`] : event.type === 'data-updated' ? [`update:${event.keys.join(',')}`] : [],
    );
    expect(order).toEqual(['upd_a@1', 'upd_b@2', 'upd_c@3', 'update:upd', 'upd_d@4', 'upd_done@5']);
    expect(task.conflicts).toEqual([]);
  });

  it('that replaces what a step run ahead wrote is recorded as a conflict, as for a step run on its own', async () => {
    // docs/semantics.md "Updates that arrive while steps run": the update's value stands, and a conflict is
    // recorded naming the step. Here the update arrived while upd_c, run ahead, was running.
    const { task, server } = await raceUpdate({ upd: { fromOutside: 'yes', held: 'by update' } });
    expect(task.state).toBe('done');
    expect(task.data).toEqual({ upd: { url: server.url, start: true, a: true, b: true, held: 'by update', c: true, fromOutside: 'yes', d: true } });
    expect(task.conflicts).toEqual([{ cycle: 3, paths: ['/upd/held'], kept: 'update', dropped: 'upd_c', outcome: 'overwritten' }]);
  });
});
