import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createActivities } from '../../src/activities';
import { startTask, waitForTask } from '../../src/client';
import { INLINE_DATA_LIMIT } from '../../src/cycle/step-data';
import { workflowBundle } from '../../src/worker';
import { replayTasks, startHarness, type TestHarness } from '../support/temporal';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'large-data');
let harness: TestHarness;

beforeAll(async () => {
  harness = await startHarness(workspace);
});

afterAll(async () => {
  if (harness) {
    const replayed = await replayTasks(harness.client, harness.taskIds, 'large-data');
    expect(replayed).toBe(harness.taskIds.length);
    await harness.close();
  }
});

/** A blob of `chars` characters with non-ASCII text in it, ending in a marker a step reports back. */
const blobOf = (chars: number) => `${'données-🙂-'.repeat(Math.ceil(chars / 11)).slice(0, chars - 4)}#END`;

/** Sizes (JSON characters) of what a task's history holds. */
async function historySizes(client: Client, workflowId: string): Promise<{ total: number; stepInputs: number[]; stepResults: number[] }> {
  const json = historyToJSON(await client.workflow.getHandle(workflowId).fetchHistory());
  const events = (JSON.parse(json) as { events: Record<string, unknown>[] }).events;
  const stepInputs = events
    .map((event) => event.activityTaskScheduledEventAttributes as { activityType?: { name?: string }; input?: unknown } | undefined)
    .filter((attrs) => attrs?.activityType?.name === 'runStep')
    .map((attrs) => JSON.stringify(attrs!.input).length);
  // Every activity of these tasks is a step: their results.
  const stepResults = events
    .map((event) => event.activityTaskCompletedEventAttributes as { result?: unknown } | undefined)
    .filter((attrs) => attrs !== undefined)
    .map((attrs) => JSON.stringify(attrs.result).length);
  return { total: json.length, stepInputs, stepResults };
}

describe('large task data stays out of history', () => {
  it('steps over 1 MB of data get a reference, read the snapshot of their cycle, and history stays small', async () => {
    const blob = blobOf(1_100_000);
    const task = await harness.runTask({ name: 'large', data: { blob, counter: 0, watching: true, seen: [] }, concurrency: 2 });
    expect(task.state).toBe('done');
    // watch ran beside count in cycles 1–4 on the same snapshot: it saw each counter value before count's write
    // (it ranks first and writes nothing count reads, so both are merged).
    expect(task.result).toEqual({ seen: [0, 1, 2, 3, 4], blobLength: blob.length, blobEnd: '#END' });
    expect(task.data.counter).toBe(4);
    expect(task.data.blob).toBe(blob);
    expect(task.trace.map((t) => `${t.cycle}:${t.step}`)).toEqual([
      '1:watch',
      '1:count',
      '2:watch',
      '2:count',
      '3:watch',
      '3:count',
      '4:watch',
      '4:count',
      '5:watch',
    ]);

    const sizes = await historySizes(harness.client, harness.taskIds.at(-1)!);
    expect(sizes.stepInputs).toHaveLength(9);
    // Base64 of a payload holding a reference, the task's ID and name: far below the data.
    for (const chars of sizes.stepInputs) expect(chars).toBeLessThan(2000);
    // Step results carry patches (here: the counter, the list seen so far), not the data.
    expect(sizes.stepResults).toHaveLength(9);
    for (const chars of sizes.stepResults) expect(chars).toBeLessThan(2000);
    // The data is in history where it enters (the start input) and leaves (the result snapshot), never per step:
    // inline, nine step inputs would have added more than 9 × 1.1 MB.
    const dataInHistory = Buffer.byteLength(JSON.stringify(blob)) * (4 / 3);
    expect(sizes.total).toBeLessThan(2 * dataInHistory + 200_000);
  });

  it('small data still goes inline in the step input', async () => {
    const task = await harness.runTask({
      name: 'small',
      data: { blob: blobOf(200), counter: 0, watching: true, seen: [] },
      concurrency: 2,
    });
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ seen: [0, 1, 2, 3, 4], blobLength: 200, blobEnd: '#END' });
    const sizes = await historySizes(harness.client, harness.taskIds.at(-1)!);
    // Inline: each input holds the data (base64 of the JSON).
    for (const chars of sizes.stepInputs) expect(chars).toBeGreaterThan(200 * (4 / 3));
    expect(JSON.stringify({ blob: blobOf(200) }).length).toBeLessThan(INLINE_DATA_LIMIT);
  });

  it('a step that starts on a fresh worker reads its data from a task that worker first has to replay', async () => {
    const address = inject('temporalAddress');
    const namespace = inject('temporalNamespace');
    const connection = await Connection.connect({ address });
    const client = new Client({ connection, namespace });
    const taskQueue = `test-restart-${randomUUID()}`;
    const workerOn = async (options: { stepsToo: boolean }) => {
      const nativeConnection = await NativeConnection.connect({ address });
      const worker = await Worker.create({
        connection: nativeConnection,
        namespace,
        taskQueue,
        workflowBundle: await workflowBundle(),
        activities: createActivities(workspace),
        // The first worker runs the workflow (and the catalog's local activity) but leaves the step activities alone.
        enableNonLocalActivities: options.stepsToo,
      });
      const running = worker.run();
      return async () => {
        worker.shutdown();
        await running;
        await nativeConnection.close();
      };
    };
    let stop = await workerOn({ stepsToo: false });
    try {
      const blob = blobOf(300_000);
      const handle = await startTask(client, {
        name: 'large-restarted',
        data: { blob, counter: 0, watching: true, seen: [] },
        taskQueue,
        concurrency: 2,
      });
      // Wait until the first cycle's steps are scheduled, then replace the worker: the new one has no copy of the task.
      await expect.poll(async () => (await handle.describe()).raw.pendingActivities?.length ?? 0, { timeout: 30_000 }).toBe(2);
      await stop();
      stop = await workerOn({ stepsToo: true });
      const task = await waitForTask(client, handle.workflowId, { timeoutMs: 60_000 });
      expect(task.state).toBe('done');
      expect(task.result).toEqual({ seen: [0, 1, 2, 3, 4], blobLength: blob.length, blobEnd: '#END' });
      expect(task.trace.every((entry) => entry.attempt === 1)).toBe(true);
      expect(await replayTasks(client, [handle.workflowId], 'large-data')).toBe(1);
    } finally {
      await stop();
      await connection.close();
    }
  });
});
