import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTask, startTask, stopTask } from '../../src/client';
import { INLINE_DATA_LIMIT } from '../../src/cycle/step-data';
import { replayTasks, startHarness, type TestHarness } from '../support/temporal';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'local-steps');
let harness: TestHarness;

beforeAll(async () => {
  harness = await startHarness(workspace);
});

afterAll(async () => {
  if (harness) {
    // Histories with local steps replay with the current code.
    const replayed = await replayTasks(harness.client, harness.taskIds, 'local-steps');
    expect(replayed).toBe(harness.taskIds.length);
    await harness.close();
  }
});

interface StepRecords {
  /** Steps scheduled as regular activities (ActivityTaskScheduled of runStep), by step name. */
  scheduled: string[];
  /** Steps recorded as local activities (a marker), by step name. */
  local: string[];
  /** Attempts of the local steps' markers, by step name. */
  localAttempts: Record<string, number>;
}

interface JsonPayload {
  data?: string;
}

/** Which steps of a task ran as regular activities and which as local ones, read from its history. */
async function stepRecords(taskId: string): Promise<StepRecords> {
  const history = JSON.parse(historyToJSON(await harness.client.workflow.getHandle(taskId).fetchHistory())) as {
    events: Record<string, unknown>[];
  };
  const decode = (payload: JsonPayload | undefined): unknown =>
    payload?.data ? JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) : undefined;
  const records: StepRecords = { scheduled: [], local: [], localAttempts: {} };
  for (const event of history.events) {
    const scheduled = event.activityTaskScheduledEventAttributes as
      | { activityType?: { name?: string }; input?: { payloads?: JsonPayload[] } }
      | undefined;
    if (scheduled?.activityType?.name === 'runStep')
      records.scheduled.push((decode(scheduled.input?.payloads?.[0]) as { step: string }).step);
    const marker = event.markerRecordedEventAttributes as
      | { markerName?: string; details?: Record<string, { payloads?: JsonPayload[] }> }
      | undefined;
    if (marker?.markerName === 'core_local_activity') {
      const about = decode(marker.details?.data?.payloads?.[0]) as { activity_type?: string; attempt?: number };
      const result = decode(marker.details?.result?.payloads?.[0]) as { patch?: { path: string }[] } | undefined;
      if (about.activity_type !== 'runStep') continue;
      // The marker keeps the outcome, not the input: the step is told by the paths its patch wrote.
      const step = result?.patch?.[0]?.path.split('/')[1] ?? '?';
      records.local.push(step);
      records.localAttempts[step] = about.attempt ?? 0;
    }
  }
  return records;
}

/** A local HTTP server steps report to; it resolves waiters when a given report arrives. */
async function reportServer(): Promise<{ url: string; when(path: string): Promise<void>; close(): Promise<void> }> {
  const seen: string[] = [];
  const waiters: { path: string; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.url ?? '');
    for (const waiter of waiters.filter((w) => w.path === req.url)) waiter.resolve();
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    when: (path) => (seen.includes(path) ? Promise.resolve() : new Promise((resolve) => waiters.push({ path, resolve }))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('local steps', () => {
  it('a step declared local runs as a local activity (a marker, no activity task), retried in place; the others run as activities', async () => {
    const task = await harness.runTask({ name: 'mixed', data: { quick: {}, long: { wanted: true }, forced: { wanted: true } } });
    expect(task.state).toBe('done');
    // The first attempt failed on purpose: the retry policy of the step file applies to the local activity too.
    expect(task.data.quick).toEqual({ done: true, attempt: 2 });
    expect(task.data.long).toEqual({ wanted: false, ranAs: 'long #1' });
    const records = await stepRecords(task.taskId);
    expect(records.local).toEqual(['quick']);
    expect(records.localAttempts.quick).toBe(2);
    // Steps are regular unless they say otherwise: `end` and `long` say nothing, `forced_regular` says local: false.
    expect(records.scheduled.sort()).toEqual(['end', 'forced_regular', 'long']);
  });

  it('a step declared local whose data is served by reference (large data) runs as a regular activity', async () => {
    const big = 'x'.repeat(INLINE_DATA_LIMIT + 1000);
    const task = await harness.runTask({ name: 'large', data: { big, quick: {}, long: { wanted: false }, forced: { wanted: false } } });
    expect(task.state).toBe('done');
    expect(task.data.quick).toEqual({ done: true, attempt: 2 });
    const records = await stepRecords(task.taskId);
    expect(records.scheduled.sort()).toEqual(['end', 'quick']);
    expect(records.local).toEqual([]);
  });

  it('a stop cancels a running local step: its content sees step.signal abort, and its changes do not land', async () => {
    const reports = await reportServer();
    try {
      const handle = await startTask(harness.client, {
        name: 'hold',
        data: { hold: { report: reports.url } },
        taskQueue: harness.taskQueue,
      });
      harness.taskIds.push(handle.workflowId);
      await reports.when('/started');
      // The stop waits for the workflow task the local step runs in; the worker extends it every few seconds.
      expect(await stopTask(harness.client, handle.workflowId)).toBe('stopped');
      await reports.when('/aborted');
      const final = await getTask(harness.client, handle.workflowId);
      expect(final.state).toBe('stopped');
      expect(final.data).toEqual({ hold: { report: reports.url } });
      expect(final.stepRuns).toBe(0);
      await handle.result();
      const records = await stepRecords(handle.workflowId);
      expect(records.scheduled).toEqual([]);
    } finally {
      await reports.close();
    }
  });
});
