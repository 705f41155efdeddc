/**
 * The dev server whenflow starts (`whenflow dev`, `run`, `test`, `startDevServer()`, the suite's) carries
 * whenflow's dynamic configuration. Checked here through the server's own answer, not the arguments.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { installRuntime } from '../../src/temporal/sdk-logging';
import { startDevServer, type TemporalSession } from '../../src/temporal/server';

async function partitions(session: TemporalSession): Promise<{ workflow: number; activity: number }> {
  const answer = await session.client.workflowService.listTaskQueuePartitions({
    namespace: session.namespace,
    taskQueue: { name: `partitions-${randomUUID()}` },
  });
  return { workflow: answer.workflowTaskQueuePartitions?.length ?? 0, activity: answer.activityTaskQueuePartitions?.length ?? 0 };
}

describe('the dev server whenflow starts', () => {
  const sessions: TemporalSession[] = [];
  afterAll(async () => {
    await Promise.all(sessions.map((session) => session.close()));
  });

  it('serves each task queue from one partition, so a burst of tasks never waits for forwarding between partitions', async () => {
    installRuntime();
    const session = await startDevServer();
    sessions.push(session);
    expect(await partitions(session)).toEqual({ workflow: 1, activity: 1 });
  }, 120_000);

  it('takes a dynamic configuration value over its own (here: the server default of four partitions)', async () => {
    installRuntime();
    const session = await startDevServer({
      dynamicConfig: { 'matching.numTaskqueueReadPartitions': 4, 'matching.numTaskqueueWritePartitions': 4 },
    });
    sessions.push(session);
    expect(await partitions(session)).toEqual({ workflow: 4, activity: 4 });
  }, 120_000);
});
