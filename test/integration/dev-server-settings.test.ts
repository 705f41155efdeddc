/**
 * The dev server whenflow starts (`whenflow dev`, `run`, `test`, `startDevServer()`, the suite's) carries
 * whenflow's dynamic configuration. Checked through the server's own answers, not the arguments.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { afterAll, describe, expect, it } from 'vitest';
import { startTask, waitForTask } from '../../src/client';
import { installRuntime } from '../../src/temporal/sdk-logging';
import { startDevServer, type TemporalSession } from '../../src/temporal/server';
import { createTaskWorker } from '../../src/worker';
import { scratchWorkspaces } from '../support/scratch-workspaces';

const FOUR_PARTITIONS = { 'matching.numTaskqueueReadPartitions': 4, 'matching.numTaskqueueWritePartitions': 4 };
const scratch = scratchWorkspaces('dev-server-settings');

/** The partitions a new task of the queue may be written to. */
async function partitions(session: TemporalSession): Promise<{ workflow: number; activity: number }> {
  const answer = await session.client.workflowService.listTaskQueuePartitions({
    namespace: session.namespace,
    taskQueue: { name: `partitions-${randomUUID()}` },
  });
  return { workflow: answer.workflowTaskQueuePartitions?.length ?? 0, activity: answer.activityTaskQueuePartitions?.length ?? 0 };
}

/** The workflow tasks waiting in each partition of the queue (the server's hint), once all `count` are there. */
async function backlogByPartition(session: TemporalSession, taskQueue: string, count: number): Promise<number[]> {
  const { namespace } = session;
  const service = session.client.workflowService;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const listed = await service.listTaskQueuePartitions({ namespace, taskQueue: { name: taskQueue } });
    const backlog = await Promise.all(
      (listed.workflowTaskQueuePartitions ?? []).map(async ({ key }) => {
        const answer = await service.describeTaskQueue({
          namespace,
          taskQueue: { name: key ?? '' },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
          includeTaskQueueStatus: true,
        });
        return Number(answer.taskQueueStatus?.backlogCountHint ?? 0);
      }),
    );
    const total = backlog.reduce((sum, n) => sum + n, 0);
    if (total >= count) return backlog;
    if (Date.now() > deadline) throw new Error(`the queue's partitions held ${total} of ${count} tasks: ${backlog.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the dev server whenflow starts', () => {
  const sessions: TemporalSession[] = [];
  const start = async (...args: Parameters<typeof startDevServer>) => {
    installRuntime();
    const session = await startDevServer(...args);
    sessions.push(session);
    return session;
  };
  afterAll(async () => {
    await Promise.all(sessions.map((session) => session.close()));
  });

  it('writes each task queue to one partition, so a burst of tasks never waits for forwarding between partitions', async () => {
    expect(await partitions(await start())).toEqual({ workflow: 1, activity: 1 });
  }, 120_000);

  it('takes a dynamic configuration value over its own (here: the server default of four partitions)', async () => {
    expect(await partitions(await start({ dynamicConfig: FOUR_PARTITIONS }))).toEqual({ workflow: 4, activity: 4 });
  }, 120_000);

  it('with its database in a file, still delivers the tasks that an earlier version queued in four partitions', async () => {
    const workspace = await scratch.workspace({
      'steps/finish.mjs': 'export const condition = { queued: true };\nexport const content = async () => { task.complete(); };\n',
    });
    const dbFilename = join(workspace, 'dev.db');
    const taskQueue = `queued-${randomUUID()}`;
    // A server as an earlier version started it: tasks written to four partitions, and no worker yet.
    const earlier = await start({ dbFilename, dynamicConfig: FOUR_PARTITIONS });
    const taskIds = [];
    for (let i = 0; i < 16; i++) {
      taskIds.push((await startTask(earlier.client, { name: 'queued', data: { queued: true }, taskQueue })).workflowId);
    }
    // Closed once the tasks are in the queue's partitions (not only in the history service's transfer queue),
    // some of them in partitions other than the first: the ones one partition no longer reads.
    const backlog = await backlogByPartition(earlier, taskQueue, taskIds.length);
    expect(backlog).toHaveLength(4);
    expect(backlog.slice(1).reduce((sum, n) => sum + n, 0)).toBeGreaterThan(0);
    await earlier.close();
    sessions.splice(sessions.indexOf(earlier), 1);

    // Today's server: one partition, read and written.
    const now = await start({ dbFilename });
    const worker = await createTaskWorker({ connection: now.nativeConnection, namespace: now.namespace, workspace, taskQueue });
    const running = worker.run();
    try {
      const settled = await Promise.all(taskIds.map((id) => waitForTask(now.client, id, { timeoutMs: 60_000 }).then((view) => view.state)));
      expect(settled).toEqual(taskIds.map(() => 'done'));
    } finally {
      worker.shutdown();
      await running;
    }
  }, 180_000);
});
